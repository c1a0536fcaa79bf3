import { describe, expect, it } from 'vitest';
import { defaultRuleset } from '../../../homeserver/services/user-data/push/default-rules.js';
import {
  conditionMatches,
  evaluatePushRules,
  globMatches,
  memberCountMatches,
  propertyAt,
  splitPath,
  type PushContext,
  type PushEvent,
} from '../../../homeserver/services/user-data/push/evaluator.js';
import type { PushRuleset } from '../../../homeserver/services/user-data/push/types.js';

const ME = '@alice:example.org';
const ctx = (over: Partial<PushContext> = {}): PushContext => ({
  userId: ME,
  displayName: 'Alice Liddell',
  roomMemberCount: 5,
  senderPowerLevel: 0,
  ...over,
});
const message = (body: string, extra: Record<string, unknown> = {}): PushEvent => ({
  type: 'm.room.message',
  sender: '@bob:example.org',
  room_id: '!room:example.org',
  content: { msgtype: 'm.text', body, ...extra },
});

describe('globs and paths', () => {
  it('matches * and ? case-insensitively over the whole value (spec examples)', () => {
    expect(globMatches('lunc?*', 'Lunch plans')).toBe(true);
    expect(globMatches('lunc?*', 'LUNCH')).toBe(true);
    expect(globMatches('lunc?*', ' lunch')).toBe(false);
    expect(globMatches('lunc?*', 'lunc')).toBe(false);
    expect(globMatches('m.room.*', 'm.room.message')).toBe(true);
    expect(globMatches('m.room.*', 'mxroomxmessage')).toBe(false); // '.' is literal
    expect(globMatches('a+b(c)', 'A+B(C)')).toBe(true); // regex syntax is literal
    expect(globMatches('?', '😀')).toBe(true); // one code point
  });

  it('content.body matches at word boundaries (spec examples)', () => {
    const ev = (body: string) => conditionMatches({ kind: 'event_match', key: 'content.body', pattern: 'ex*ple' }, message(body), ctx());
    expect(ev('An example event.')).toBe(true);
    expect(ev('exple')).toBe(true);
    expect(ev('An exciting triple-whammy')).toBe(true);
    expect(ev('anexample')).toBe(false);
    expect(ev('examples')).toBe(false);
  });

  it('does not match absent or non-string values, even with *', () => {
    const e = { ...message('hi'), content: { topic: null, n: 1 } };
    expect(conditionMatches({ kind: 'event_match', key: 'content.topic', pattern: '*' }, e, ctx())).toBe(false);
    expect(conditionMatches({ kind: 'event_match', key: 'content.n', pattern: '*' }, e, ctx())).toBe(false);
    expect(conditionMatches({ kind: 'event_match', key: 'content.missing', pattern: '*' }, e, ctx())).toBe(false);
  });

  it('splits dot-separated paths with escapes', () => {
    expect(splitPath('content.m\\.mentions.user_ids')).toEqual(['content', 'm.mentions', 'user_ids']);
    expect(splitPath('a\\\\.b')).toEqual(['a\\', 'b']);
    expect(splitPath('a\\b')).toEqual(['a\\b']);
    expect(propertyAt({ content: { 'm.relates_to': { rel_type: 'm.replace' } } }, 'content.m\\.relates_to.rel_type')).toBe('m.replace');
    expect(propertyAt({ content: { a: [1] } }, 'content.a.0')).toBeUndefined(); // no descent into arrays
  });
});

describe('conditions', () => {
  it('event_property_is matches exact scalars without casting', () => {
    const e: PushEvent = { type: 'm.room.create', sender: '@x:y', content: { 'm.federate': true, n: 1, s: 'true', z: null } };
    const is = (key: string, value: unknown) => conditionMatches({ kind: 'event_property_is', key, value }, e, ctx());
    expect(is('content.m\\.federate', true)).toBe(true);
    expect(is('content.m\\.federate', 'true')).toBe(false);
    expect(is('content.m\\.federate', 1)).toBe(false);
    expect(is('content.n', 1)).toBe(true);
    expect(is('content.s', true)).toBe(false);
    expect(is('content.z', null)).toBe(true);
    expect(is('content.absent', null)).toBe(false);
  });

  it('event_property_contains needs an array holding the exact value', () => {
    const e: PushEvent = {
      type: 'm.room.canonical_alias',
      sender: '@x:y',
      content: { alt_aliases: ['#somewhere:example.org', '#myroom:example.com'] },
    };
    const has = (value: unknown, key = 'content.alt_aliases') =>
      conditionMatches({ kind: 'event_property_contains', key, value }, e, ctx());
    expect(has('#myroom:example.com')).toBe(true);
    expect(has(':example.com')).toBe(false);
    expect(has('#somewhere:example.org', 'content.alt_aliases.0')).toBe(false);
  });

  it('contains_display_name matches the display name at word boundaries', () => {
    const c = { kind: 'contains_display_name' };
    expect(conditionMatches(c, message('hey Alice Liddell, lunch?'), ctx())).toBe(true);
    expect(conditionMatches(c, message('hey alice liddell'), ctx())).toBe(true);
    expect(conditionMatches(c, message('hey Alice Liddells'), ctx())).toBe(false);
    expect(conditionMatches(c, message('hey Alice'), ctx({ displayName: null }))).toBe(false);
    expect(conditionMatches(c, message('a (b) c'), ctx({ displayName: '(b)' }))).toBe(true); // regex characters are literal
  });

  it('room_member_count compares with ==, <, >, <=, >=', () => {
    expect(memberCountMatches('2', 2)).toBe(true);
    expect(memberCountMatches('==2', 3)).toBe(false);
    expect(memberCountMatches('<10', 9)).toBe(true);
    expect(memberCountMatches('<10', 10)).toBe(false);
    expect(memberCountMatches('<=10', 10)).toBe(true);
    expect(memberCountMatches('>2', 3)).toBe(true);
    expect(memberCountMatches('>=3', 2)).toBe(false);
    expect(memberCountMatches('about 2', 2)).toBe(false);
  });

  it('sender_notification_permission uses the notifications levels (default 50)', () => {
    const c = { kind: 'sender_notification_permission', key: 'room' };
    expect(conditionMatches(c, message('x'), ctx({ senderPowerLevel: 49 }))).toBe(false);
    expect(conditionMatches(c, message('x'), ctx({ senderPowerLevel: 50 }))).toBe(true);
    expect(conditionMatches(c, message('x'), ctx({ senderPowerLevel: 10, notificationLevels: { room: 10 } }))).toBe(true);
  });

  it('unknown condition kinds never match', () => {
    expect(conditionMatches({ kind: 'org.example.magic' }, message('x'), ctx())).toBe(false);
  });
});

describe('evaluatePushRules with the default rules', () => {
  it('plain messages notify without highlight; in a 1:1 room too', () => {
    expect(evaluatePushRules(message('hello'), ctx())).toMatchObject({ notify: true, highlight: false, ruleId: '.m.rule.message' });
    expect(evaluatePushRules(message('hello'), ctx({ roomMemberCount: 2 }))).toMatchObject({
      notify: true,
      highlight: false,
      ruleId: '.m.rule.room_one_to_one',
      tweaks: { sound: 'default' },
    });
  });

  it('m.mentions user_ids highlight; legacy body mentions are skipped when m.mentions is present', () => {
    const mentioned = message('hi', { 'm.mentions': { user_ids: [ME] } });
    expect(evaluatePushRules(mentioned, ctx())).toMatchObject({ notify: true, highlight: true, ruleId: '.m.rule.is_user_mention' });
    const legacy = message('hi alice');
    expect(evaluatePushRules(legacy, ctx())).toMatchObject({ highlight: true, ruleId: '.m.rule.contains_user_name' });
    const legacyName = message('hi Alice Liddell');
    expect(evaluatePushRules(legacyName, ctx())).toMatchObject({ highlight: true, ruleId: '.m.rule.contains_display_name' });
    const withEmptyMentions = message('hi alice and Alice Liddell', { 'm.mentions': {} });
    expect(evaluatePushRules(withEmptyMentions, ctx())).toMatchObject({ notify: true, highlight: false, ruleId: '.m.rule.message' });
  });

  it('room mentions need the sender to have the notification power level', () => {
    const roomMention = message('everyone!', { 'm.mentions': { room: true } });
    expect(evaluatePushRules(roomMention, ctx({ senderPowerLevel: 50 }))).toMatchObject({
      highlight: true,
      ruleId: '.m.rule.is_room_mention',
    });
    expect(evaluatePushRules(roomMention, ctx({ senderPowerLevel: 0 }))).toMatchObject({ highlight: false, ruleId: '.m.rule.message' });
    expect(evaluatePushRules(message('@room hi'), ctx({ senderPowerLevel: 100 }))).toMatchObject({
      highlight: true,
      ruleId: '.m.rule.roomnotif',
    });
  });

  it('notices, edits, reactions, member events and ACLs do not notify', () => {
    expect(evaluatePushRules(message('bot', { msgtype: 'm.notice' }), ctx()).notify).toBe(false);
    const edit = message('* fixed', { 'm.relates_to': { rel_type: 'm.replace', event_id: '$x' } });
    expect(evaluatePushRules(edit, ctx())).toMatchObject({ notify: false, ruleId: '.m.rule.suppress_edits' });
    expect(evaluatePushRules({ type: 'm.reaction', sender: '@bob:x', content: {} }, ctx())).toMatchObject({
      notify: false,
      ruleId: '.m.rule.reaction',
    });
    const join = { type: 'm.room.member', sender: '@bob:x', state_key: '@bob:x', content: { membership: 'join' } };
    expect(evaluatePushRules(join, ctx())).toMatchObject({ notify: false, ruleId: '.m.rule.member_event' });
    const acl = { type: 'm.room.server_acl', sender: '@bob:x', state_key: '', content: {} };
    expect(evaluatePushRules(acl, ctx())).toMatchObject({ notify: false, ruleId: '.m.rule.room.server_acl' });
  });

  it('invites for me notify; tombstones highlight; calls ring; encrypted events notify', () => {
    const invite = { type: 'm.room.member', sender: '@bob:x', state_key: ME, content: { membership: 'invite' } };
    expect(evaluatePushRules(invite, ctx())).toMatchObject({ notify: true, ruleId: '.m.rule.invite_for_me' });
    const tomb = { type: 'm.room.tombstone', sender: '@bob:x', state_key: '', content: { body: 'moved' } };
    expect(evaluatePushRules(tomb, ctx())).toMatchObject({ notify: true, highlight: true });
    expect(evaluatePushRules({ type: 'm.call.invite', sender: '@bob:x', content: {} }, ctx())).toMatchObject({ tweaks: { sound: 'ring' } });
    expect(evaluatePushRules({ type: 'm.room.encrypted', sender: '@bob:x', content: {} }, ctx())).toMatchObject({
      ruleId: '.m.rule.encrypted',
    });
    expect(evaluatePushRules({ type: 'm.room.encrypted', sender: '@bob:x', content: {} }, ctx({ roomMemberCount: 2 }))).toMatchObject({
      ruleId: '.m.rule.encrypted_room_one_to_one',
    });
  });

  it('own events never notify; the master rule silences everything', () => {
    expect(evaluatePushRules({ ...message('hello alice'), sender: ME }, ctx()).notify).toBe(false);
    const ruleset = defaultRuleset(ME);
    ruleset.override[0]!.enabled = true;
    expect(evaluatePushRules(message('hi alice'), ctx({ ruleset }))).toMatchObject({ notify: false, ruleId: '.m.rule.master' });
  });

  it('user rules: room, sender and content rules in kind order; disabled rules are skipped', () => {
    const base = defaultRuleset(ME);
    const ruleset: PushRuleset = {
      ...base,
      content: [
        {
          rule_id: 'cake',
          default: false,
          enabled: true,
          pattern: 'cake*lie',
          actions: ['notify', { set_tweak: 'sound', value: 'cake.wav' }],
        },
        ...base.content,
      ],
      room: [{ rule_id: '!room:example.org', default: false, enabled: true, actions: [] }],
      sender: [
        { rule_id: '@bob:example.org', default: false, enabled: true, actions: ['notify', { set_tweak: 'highlight', value: true }] },
      ],
    };
    expect(evaluatePushRules(message('the cake is a lie'), ctx({ ruleset }))).toMatchObject({
      ruleId: 'cake',
      tweaks: { sound: 'cake.wav' },
    });
    expect(evaluatePushRules(message('hello'), ctx({ ruleset }))).toMatchObject({ notify: false, ruleId: '!room:example.org' });
    ruleset.room[0]!.enabled = false;
    expect(evaluatePushRules(message('hello'), ctx({ ruleset }))).toMatchObject({ highlight: true, ruleId: '@bob:example.org' });
  });
});
