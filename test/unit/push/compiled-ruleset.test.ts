import { describe, expect, it } from 'vitest';
import { defaultRuleset } from '../../../homeserver/services/user-data/push/default-rules.js';
import {
  compileRuleset,
  evaluatePushRules,
  type PushContext,
  type PushEvent,
} from '../../../homeserver/services/user-data/push/evaluator.js';
import type { PushRule, PushRuleset } from '../../../homeserver/services/user-data/push/types.js';

/**
 * A table of events x rulesets with the outcome the spec (and the evaluator before rulesets were
 * compiled) gives, written out: a compiled evaluation that differs anywhere shows up here.
 */

const ME = '@alice:example.org';
const ROOM = '!room:example.org';
const ctx = (over: Partial<PushContext> = {}): PushContext => ({
  userId: ME,
  displayName: 'Alice Liddell',
  roomMemberCount: 5,
  senderPowerLevel: 0,
  ...over,
});
const message = (body: unknown, extra: Record<string, unknown> = {}, sender = '@bob:example.org'): PushEvent => ({
  type: 'm.room.message',
  sender,
  room_id: ROOM,
  content: { msgtype: 'm.text', body, ...extra },
});
const ofType = (type: string, content: Record<string, unknown> = {}): PushEvent => ({
  type,
  sender: '@bob:example.org',
  room_id: ROOM,
  content,
});

/** `ruleId notify/silent [highlight]`, or `none`: enough to tell any two outcomes of these tables apart. */
function summary(event: PushEvent, context: PushContext): string {
  const r = evaluatePushRules(event, context);
  if (!r.ruleId) return 'none';
  return `${r.ruleId} ${r.notify ? 'notify' : 'silent'}${r.highlight ? ' highlight' : ''}`;
}

const user = (rule_id: string, over: Partial<PushRule>): PushRule => ({
  rule_id,
  default: false,
  enabled: true,
  actions: ['notify'],
  ...over,
});

/** The default rules with user rules of every kind around them. */
function customRuleset(): PushRuleset {
  const base = defaultRuleset(ME);
  const [master, ...defaultOverrides] = base.override;
  return {
    override: [
      master!,
      user('disabled.everything', { enabled: false, conditions: [], actions: ['notify', { set_tweak: 'sound', value: 'all' }] }),
      user('glob.type', {
        conditions: [{ kind: 'event_match', key: 'type', pattern: 'org.example.*' }],
        actions: ['notify', { set_tweak: 'sound', value: 'x' }],
      }),
      user('one.char', { conditions: [{ kind: 'event_match', key: 'content.tag', pattern: 'a?c' }] }),
      user('unknown.kind', { conditions: [{ kind: 'org.example.magic' }] }),
      user('unknown.among.others', { conditions: [{ kind: 'event_match', key: 'type', pattern: '*' }, { kind: 'org.example.magic' }] }),
      user('count.big', {
        conditions: [{ kind: 'room_member_count', is: '>=100' }],
        actions: ['notify', { set_tweak: 'highlight', value: false }],
      }),
      user('count.malformed', { conditions: [{ kind: 'room_member_count', is: 'about 3' }] }),
      user('escaped.path', {
        conditions: [{ kind: 'event_property_is', key: 'content.org\\.example\\.flag', value: true }],
        actions: ['notify', { set_tweak: 'highlight' }],
      }),
      ...defaultOverrides,
    ],
    content: [
      user('cake', { pattern: 'cake*lie', actions: ['notify', { set_tweak: 'sound', value: 'cake.wav' }] }),
      user('b.t', { pattern: 'b?t' }),
      ...base.content,
    ],
    room: [user('!quiet:example.org', { actions: [] })],
    sender: [user('@boss:example.org', { actions: ['notify', { set_tweak: 'highlight' }] })],
    underride: [
      user('permission.custom', {
        conditions: [
          { kind: 'event_match', key: 'type', pattern: 'org.perm' },
          { kind: 'sender_notification_permission', key: 'custom' },
        ],
      }),
      user('tag.list', {
        conditions: [{ kind: 'event_property_contains', key: 'content.tags', value: 'urgent' }],
        actions: ['notify', { set_tweak: 'highlight' }],
      }),
      ...base.underride,
    ],
  };
}

describe('compiled evaluation: the default ruleset', () => {
  const rows: [string, PushEvent, Partial<PushContext>, string][] = [
    ['plain message', message('hello'), {}, '.m.rule.message notify'],
    ['one-to-one message', message('hello'), { roomMemberCount: 2 }, '.m.rule.room_one_to_one notify'],
    ['user name, any case, at a word boundary', message('ALICE!'), {}, '.m.rule.contains_user_name notify highlight'],
    ['user name inside a word', message('malice aforethought'), {}, '.m.rule.message notify'],
    ['display name', message('hi alice liddell.'), {}, '.m.rule.contains_display_name notify highlight'],
    ['display name with regex characters', message('a (b) c'), { displayName: '(b)' }, '.m.rule.contains_display_name notify highlight'],
    ['no display name', message('Liddell here'), { displayName: null }, '.m.rule.message notify'],
    ['non-string body', message(5), {}, '.m.rule.message notify'],
    ['legacy rules skipped with m.mentions', message('hi alice liddell', { 'm.mentions': {} }), {}, '.m.rule.message notify'],
    ['user mention', message('hi', { 'm.mentions': { user_ids: [ME] } }), {}, '.m.rule.is_user_mention notify highlight'],
    ['mention of someone else', message('hi', { 'm.mentions': { user_ids: ['@carol:x'] } }), {}, '.m.rule.message notify'],
    ['@room with permission', message('@room lunch'), { senderPowerLevel: 50 }, '.m.rule.roomnotif notify highlight'],
    ['@room without permission', message('@room lunch'), { senderPowerLevel: 49 }, '.m.rule.message notify'],
    [
      '@room, lowered level',
      message('@room'),
      { senderPowerLevel: 10, notificationLevels: { room: 10 } },
      '.m.rule.roomnotif notify highlight',
    ],
    ['@room, malformed level', message('@room'), { senderPowerLevel: 10, notificationLevels: { room: '10' } }, '.m.rule.message notify'],
    [
      'room mention',
      message('all', { 'm.mentions': { room: true } }),
      { senderPowerLevel: 50 },
      '.m.rule.is_room_mention notify highlight',
    ],
    ['notice', message('bot', { msgtype: 'm.notice' }), {}, '.m.rule.suppress_notices silent'],
    ['own message', message('hi alice', {}, ME), {}, 'none'],
    ['type in upper case', { ...message('x'), type: 'M.ROOM.MESSAGE' }, {}, '.m.rule.message notify'],
    // U+017F (long s) folds to "s": a same-length non-ASCII value still goes through the regex.
    ['type with long s', { ...message('x'), type: 'm.room.me\u017f\u017fage' }, {}, '.m.rule.message notify'],
    ['longer type', { ...message('x'), type: 'm.room.messages' }, {}, 'none'],
    ['encrypted, one-to-one', ofType('m.room.encrypted'), { roomMemberCount: 2 }, '.m.rule.encrypted_room_one_to_one notify'],
    ['encrypted', ofType('m.room.encrypted'), {}, '.m.rule.encrypted notify'],
    ['reaction', ofType('m.reaction'), {}, '.m.rule.reaction silent'],
    ['edit', message('x', { 'm.relates_to': { rel_type: 'm.replace' } }), {}, '.m.rule.suppress_edits silent'],
    ['invite for me', { ...ofType('m.room.member', { membership: 'invite' }), state_key: ME }, {}, '.m.rule.invite_for_me notify'],
    ['tombstone', { ...ofType('m.room.tombstone'), state_key: '' }, {}, '.m.rule.tombstone notify highlight'],
    ['unknown type', ofType('org.example.thing'), {}, 'none'],
  ];
  it.each(rows)('%s', (_, event, over, expected) => {
    const ruleset = defaultRuleset(ME);
    expect(summary(event, ctx({ ...over, ruleset }))).toBe(expected);
    // The same without a ruleset (the server defaults, compiled per user).
    expect(summary(event, ctx(over))).toBe(expected);
  });

  it('compiles the defaults per user', () => {
    expect(summary(message('hi bob'), ctx({ userId: '@bob:example.org' }))).toBe('none'); // own event
    expect(summary(message('hi carol'), ctx({ userId: '@carol:example.org' }))).toBe('.m.rule.contains_user_name notify highlight');
    expect(summary(message('hi carol'), ctx())).toBe('.m.rule.message notify');
  });
});

describe('compiled evaluation: user rules of every kind', () => {
  const rows: [string, PushEvent, Partial<PushContext>, string][] = [
    ['* glob on the type', ofType('org.example.ping'), {}, 'glob.type notify'],
    ['* glob needs its literal prefix', ofType('org.example'), {}, 'none'],
    ['? glob matches one character', message('x', { tag: 'ABC' }), {}, 'one.char notify'],
    ['? glob matches only one character', message('x', { tag: 'abbc' }), {}, '.m.rule.message notify'],
    ['room_member_count >=', message('x'), { roomMemberCount: 150 }, 'count.big notify'],
    ['room_member_count below', message('x'), { roomMemberCount: 99 }, '.m.rule.message notify'],
    ['escaped dot in a path', message('x', { 'org.example.flag': true }), {}, 'escaped.path notify highlight'],
    ['escaped dot is not nesting', message('x', { org: { example: { flag: true } } }), {}, '.m.rule.message notify'],
    ['content glob', message('the CAKE was a LIE!'), {}, 'cake notify'],
    ['content glob, empty *', message('cakelie'), {}, 'cake notify'],
    ['content glob not at a word boundary', message('thecake is a lie'), {}, '.m.rule.message notify'],
    ['content ?', message('a bot here'), {}, 'b.t notify'],
    ['content ? is one character', message('a boat'), {}, '.m.rule.message notify'],
    ['room rule', { ...message('hello'), room_id: '!quiet:example.org' }, {}, '!quiet:example.org silent'],
    ['content before room', { ...message('cake, a lie'), room_id: '!quiet:example.org' }, {}, 'cake notify'],
    ['sender rule', message('hello', {}, '@boss:example.org'), {}, '@boss:example.org notify highlight'],
    [
      'room before sender',
      { ...message('hello', {}, '@boss:example.org'), room_id: '!quiet:example.org' },
      {},
      '!quiet:example.org silent',
    ],
    ['sender_notification_permission default 50', ofType('org.perm'), { senderPowerLevel: 50 }, 'permission.custom notify'],
    ['sender_notification_permission below', ofType('org.perm'), { senderPowerLevel: 49 }, 'none'],
    ['sender_notification_permission custom level', ofType('org.perm'), { notificationLevels: { custom: 0 } }, 'permission.custom notify'],
    ['user underride before defaults', message('hello', { tags: ['x', 'urgent'] }), {}, 'tag.list notify highlight'],
    ['contains needs an array', message('hello', { tags: 'urgent' }), {}, '.m.rule.message notify'],
    ['legacy rules still apply without m.mentions', message('alice, the cake is a lie'), {}, 'cake notify'],
  ];
  it.each(rows)('%s', (_, event, over, expected) => {
    expect(summary(event, ctx({ ...over, ruleset: customRuleset() }))).toBe(expected);
  });

  it('the master rule silences everything when enabled', () => {
    const ruleset = customRuleset();
    ruleset.override[0]!.enabled = true;
    expect(summary(ofType('org.example.ping'), ctx({ ruleset }))).toBe('.m.rule.master silent');
  });
});

describe('compiled rulesets are not served stale', () => {
  it('reuses the compiled form of an unchanged ruleset', () => {
    const ruleset = customRuleset();
    expect(compileRuleset(ruleset)).toBe(compileRuleset(ruleset));
    expect(compileRuleset(customRuleset())).not.toBe(compileRuleset(ruleset));
  });

  it('sees every kind of edit made in place after first use', () => {
    const ruleset = customRuleset();
    const c = ctx({ ruleset });
    const rule = (kind: keyof PushRuleset, id: string) => ruleset[kind].find((r) => r.rule_id === id)!;
    const first = compileRuleset(ruleset);

    expect(summary(message('a bot here'), c)).toBe('b.t notify');
    rule('content', 'b.t').pattern = 'b?x'; // pattern of a content rule
    expect(summary(message('a bot here'), c)).toBe('.m.rule.message notify');
    expect(compileRuleset(ruleset)).not.toBe(first);

    expect(summary(ofType('org.example.ping'), c)).toBe('glob.type notify');
    rule('override', 'glob.type').conditions![0]!.pattern = 'org.other.*'; // a condition's parameter
    expect(summary(ofType('org.example.ping'), c)).toBe('none');

    expect(summary(message('x', { 'org.example.flag': true }), c)).toBe('escaped.path notify highlight');
    rule('override', 'escaped.path').conditions![0]!.value = false; // a condition's value
    expect(summary(message('x', { 'org.example.flag': true }), c)).toBe('.m.rule.message notify');

    rule('override', 'one.char').conditions!.push({ kind: 'org.example.magic' }); // a condition added
    expect(summary(message('x', { tag: 'abc' }), c)).toBe('.m.rule.message notify');

    rule('override', 'count.big').conditions![0]!.is = '>=3'; // a member count
    expect(summary(message('x'), c)).toBe('count.big notify');
    rule('override', 'count.big').conditions![0]!.kind = 'org.example.magic'; // a condition's kind
    expect(summary(message('x'), c)).toBe('.m.rule.message notify');

    expect(summary({ ...message('hello'), room_id: '!quiet:example.org' }, c)).toBe('!quiet:example.org silent');
    rule('room', '!quiet:example.org').rule_id = '!other:example.org'; // a room rule's id
    expect(summary({ ...message('hello'), room_id: '!quiet:example.org' }, c)).toBe('.m.rule.message notify');

    rule('sender', '@boss:example.org').actions.push({ set_tweak: 'sound', value: 'boss' }); // actions edited
    expect(evaluatePushRules(message('hello', {}, '@boss:example.org'), c).tweaks).toEqual({ highlight: true, sound: 'boss' });

    ruleset.content.unshift(user('hello', { pattern: 'hello', actions: [] })); // a rule added
    expect(summary(message('hello', {}, '@boss:example.org'), c)).toBe('hello silent');

    ruleset.underride = [user('all', { conditions: [] })]; // a kind replaced
    expect(summary(ofType('org.nothing'), c)).toBe('all notify');

    rule('override', 'disabled.everything').enabled = true; // a disabled rule enabled
    expect(summary(message('hello'), c)).toBe('disabled.everything notify');
    rule('override', 'disabled.everything').enabled = false;
    expect(summary(message('hello'), c)).toBe('hello silent');

    rule('override', '.m.rule.contains_display_name').default = false; // no longer a legacy mention rule
    expect(summary(message('hi alice liddell', { 'm.mentions': {} }), c)).toBe('.m.rule.contains_display_name notify highlight');
  });

  it('a ruleset loaded again after the user edits a rule gives the new result', () => {
    const before = customRuleset();
    expect(summary(message('a bot here'), ctx({ ruleset: before }))).toBe('b.t notify');
    const after = customRuleset();
    after.content = after.content.filter((r) => r.rule_id !== 'b.t');
    expect(summary(message('a bot here'), ctx({ ruleset: after }))).toBe('.m.rule.message notify');
    expect(summary(message('a bot here'), ctx({ ruleset: before }))).toBe('b.t notify');
  });
});
