import type { PushAction, PushCondition, PushRule, PushRuleset } from './types.js';

/**
 * The server-default push rules of the current spec ("Predefined Rules"), in the spec's order.
 * `.m.rule.master` always comes first of all override rules, user-defined ones included; every
 * other server-default rule ranks below the user's rules of the same kind.
 */

const NOTIFY = 'notify';
const SOUND_DEFAULT: PushAction = { set_tweak: 'sound', value: 'default' };
const SOUND_RING: PushAction = { set_tweak: 'sound', value: 'ring' };
const HIGHLIGHT: PushAction = { set_tweak: 'highlight' };

const match = (key: string, pattern: string): PushCondition => ({ kind: 'event_match', key, pattern });
const is = (key: string, value: unknown): PushCondition => ({ kind: 'event_property_is', key, value });

function rule(rule_id: string, conditions: PushCondition[], actions: PushAction[], enabled = true): PushRule {
  return { rule_id, default: true, enabled, conditions, actions };
}

/** The master rule alone (it precedes user-defined override rules). */
export function masterRule(): PushRule {
  return rule('.m.rule.master', [], [], false);
}

/** Server-default override rules after `.m.rule.master`. */
function overrideRules(userId: string): PushRule[] {
  return [
    rule('.m.rule.suppress_notices', [match('content.msgtype', 'm.notice')], []),
    rule(
      '.m.rule.invite_for_me',
      [match('type', 'm.room.member'), match('content.membership', 'invite'), match('state_key', userId)],
      [NOTIFY, SOUND_DEFAULT],
    ),
    rule('.m.rule.member_event', [match('type', 'm.room.member')], []),
    rule(
      '.m.rule.is_user_mention',
      [{ kind: 'event_property_contains', key: 'content.m\\.mentions.user_ids', value: userId }],
      [NOTIFY, SOUND_DEFAULT, HIGHLIGHT],
    ),
    rule('.m.rule.contains_display_name', [{ kind: 'contains_display_name' }], [NOTIFY, SOUND_DEFAULT, HIGHLIGHT]),
    rule(
      '.m.rule.is_room_mention',
      [is('content.m\\.mentions.room', true), { kind: 'sender_notification_permission', key: 'room' }],
      [NOTIFY, HIGHLIGHT],
    ),
    rule(
      '.m.rule.roomnotif',
      [match('content.body', '@room'), { kind: 'sender_notification_permission', key: 'room' }],
      [NOTIFY, HIGHLIGHT],
    ),
    rule('.m.rule.tombstone', [match('type', 'm.room.tombstone'), match('state_key', '')], [NOTIFY, HIGHLIGHT]),
    rule('.m.rule.reaction', [match('type', 'm.reaction')], []),
    rule('.m.rule.room.server_acl', [match('type', 'm.room.server_acl'), match('state_key', '')], []),
    rule('.m.rule.suppress_edits', [is('content.m\\.relates_to.rel_type', 'm.replace')], []),
  ];
}

function contentRules(userId: string): PushRule[] {
  const localpart = userId.slice(1, userId.indexOf(':'));
  return [
    {
      rule_id: '.m.rule.contains_user_name',
      default: true,
      enabled: true,
      pattern: localpart,
      actions: [NOTIFY, SOUND_DEFAULT, HIGHLIGHT],
    },
  ];
}

function underrideRules(): PushRule[] {
  const oneToOne = { kind: 'room_member_count', is: '2' };
  return [
    rule('.m.rule.call', [match('type', 'm.call.invite')], [NOTIFY, SOUND_RING]),
    rule('.m.rule.encrypted_room_one_to_one', [oneToOne, match('type', 'm.room.encrypted')], [NOTIFY, SOUND_DEFAULT]),
    rule('.m.rule.room_one_to_one', [oneToOne, match('type', 'm.room.message')], [NOTIFY, SOUND_DEFAULT]),
    rule('.m.rule.message', [match('type', 'm.room.message')], [NOTIFY]),
    rule('.m.rule.encrypted', [match('type', 'm.room.encrypted')], [NOTIFY]),
  ];
}

/** The full server-default ruleset for a user (fresh objects: callers may modify them). */
export function defaultRuleset(userId: string): PushRuleset {
  return {
    override: [masterRule(), ...overrideRules(userId)],
    content: contentRules(userId),
    room: [],
    sender: [],
    underride: underrideRules(),
  };
}

/**
 * Rules the spec deprecates in favour of `m.mentions` (v1.7): they apply only to events whose
 * content has no `m.mentions` property.
 */
export const LEGACY_MENTION_RULES: ReadonlySet<string> = new Set([
  '.m.rule.contains_display_name',
  '.m.rule.roomnotif',
  '.m.rule.contains_user_name',
]);
