import { getRoomVersionRules, type RoomVersionId, type RoomVersionRules } from './room-versions.js';

/**
 * The redaction algorithm (room versions 10 = the v9 rules, and 11). It is part of the protocol,
 * not a display choice: signatures and event ids are computed over the redacted form, so every
 * server must strip exactly the same keys. Anything not listed is removed, including `unsigned`.
 */

/** Top-level keys every redacted event keeps. */
const KEPT_TOP_LEVEL = [
  'event_id',
  'type',
  'room_id',
  'sender',
  'state_key',
  'content',
  'hashes',
  'signatures',
  'depth',
  'prev_events',
  'auth_events',
  'origin_server_ts',
] as const;

/** Kept up to v10, dropped by v11 (they were never used by the protocol). */
const KEPT_TOP_LEVEL_UNTIL_V11 = ['origin', 'membership', 'prev_state'] as const;

/** Content keys kept per event type, where the type keeps a fixed list. */
function keptContentKeys(type: string, rules: RoomVersionRules): readonly string[] {
  switch (type) {
    case 'm.room.member':
      return ['membership', 'join_authorised_via_users_server'];
    case 'm.room.create':
      return ['creator'];
    case 'm.room.join_rules':
      return ['join_rule', 'allow'];
    case 'm.room.power_levels':
      return rules.redactionKeepsPowerLevelsInvite
        ? ['ban', 'events', 'events_default', 'invite', 'kick', 'redact', 'state_default', 'users', 'users_default']
        : ['ban', 'events', 'events_default', 'kick', 'redact', 'state_default', 'users', 'users_default'];
    case 'm.room.history_visibility':
      return ['history_visibility'];
    case 'm.room.redaction':
      return rules.redactionKeepsRedactsContent ? ['redacts'] : [];
    default:
      return [];
  }
}

const hasOwn = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);
const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The content a redacted event of `type` keeps. Returns a new object; nested values (a power
 * levels `users` map, a create event's `predecessor`) are shared with the input, not copied,
 * because redacted forms are built on hot paths (every signature) and only read.
 */
export function redactedContent(type: string, content: unknown, version: RoomVersionId): Record<string, unknown> {
  const rules = getRoomVersionRules(version);
  if (!isPlainObject(content)) return {};
  if (type === 'm.room.create' && rules.redactionKeepsAllCreateContent) return { ...content };

  const out: Record<string, unknown> = {};
  for (const key of keptContentKeys(type, rules)) {
    if (hasOwn(content, key)) out[key] = content[key];
  }
  // v11: a third-party invite's `signed` block is what the auth rules verify, so it must survive.
  if (type === 'm.room.member' && rules.redactionKeepsThirdPartyInviteSigned) {
    const tpi = content.third_party_invite;
    if (isPlainObject(tpi) && hasOwn(tpi, 'signed')) out.third_party_invite = { signed: tpi.signed };
  }
  return out;
}

/**
 * The redacted form of `event` under the room version's rules. Works on any event-shaped object
 * (PDU, stored event with `event_id`, client event) and returns a new object of the same static
 * type; top-level values other than `content` are shared with the input. `content` is always
 * present in the result (empty when nothing survives), as the algorithm keeps the key itself.
 */
export function redactEvent<T extends object>(event: T, version: RoomVersionId): T {
  const rules = getRoomVersionRules(version);
  const src = event as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of KEPT_TOP_LEVEL) {
    if (key !== 'content' && hasOwn(src, key)) out[key] = src[key];
  }
  if (rules.redactionKeepsOriginMembershipPrevState) {
    for (const key of KEPT_TOP_LEVEL_UNTIL_V11) if (hasOwn(src, key)) out[key] = src[key];
  }
  out.content = redactedContent(typeof src.type === 'string' ? src.type : '', src.content, version);
  return out as T;
}
