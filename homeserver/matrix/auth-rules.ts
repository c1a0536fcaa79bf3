import { MatrixError } from './errors.js';
import { computeEventId } from './event-hashes.js';
import { membershipOf, type AnyPdu } from './pdu.js';
import { eventLevelRequired, membershipActionLevel, roomCreatorOf, userLevel, type PowerLevelsInput } from './power-levels.js';
import { getRoomVersionRules, isSupportedRoomVersion, type RoomVersionId } from './room-versions.js';
import { verifyJsonSignature } from './signing.js';
import { checkPowerLevelsChange } from './power-levels-auth.js';

/**
 * The authorization rules of room versions 10 and 11 (spec /rooms/v10 and /rooms/v11,
 * "Authorisation rules"; the rule numbers in comments are the spec's). The two versions differ
 * only in rule 1 (v11 drops `content.creator`) and rule 4.3.1 (v11's creator is the create
 * event's sender); everything else is shared.
 *
 * Pure: the caller supplies the room state the event is checked against (its auth events, the
 * state before it, or the current state — the spec checks against each) as an AuthState.
 */
export interface AuthState {
  get(type: string, stateKey: string): AnyPdu | undefined;
}

export interface AuthOptions {
  /**
   * Whether the event carries a valid signature from `serverName`. Rule 4.2 requires one from
   * the server of `join_authorised_via_users_server`; verifying it needs that server's keys,
   * which only the caller has. Without this option the rule checks that the event has a
   * signature block from that server, and the cryptographic check is left to the signature
   * verification every received PDU goes through first.
   */
  isSignedBy?: (serverName: string) => boolean;
}

function deny(reason: string): never {
  throw new MatrixError('M_FORBIDDEN', reason);
}

/** The server name of a sigilled id, or undefined when it has none (then the id is invalid). */
function domainOf(id: unknown): string | undefined {
  if (typeof id !== 'string') return undefined;
  const colon = id.indexOf(':');
  return colon < 0 ? undefined : id.slice(colon + 1);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const hasOwn = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);

/**
 * Throws M_FORBIDDEN with the reason when `event` is not allowed in `authState` under `version`'s
 * rules; returns normally when it is.
 *
 * Rule 2 (the event's own auth_events list: duplicates, selection, rejected entries, room ids)
 * concerns the list rather than the state; see checkAuthEvents(). Rule 4.2's signature check:
 * see AuthOptions.isSignedBy.
 */
export function checkEventAuth(event: AnyPdu, authState: AuthState, version: RoomVersionId, options: AuthOptions = {}): void {
  const rules = getRoomVersionRules(version);
  if (typeof event.type !== 'string') deny('Event has no type');
  const senderDomain = domainOf(event.sender);
  if (senderDomain === undefined) deny(`Invalid sender '${String(event.sender)}'`);
  const content: Record<string, unknown> = isObject(event.content) ? event.content : {};

  // Rule 1: m.room.create.
  if (event.type === 'm.room.create') {
    if (Array.isArray(event.prev_events) && event.prev_events.length > 0) deny('m.room.create must not have prev_events');
    if (domainOf(event.room_id) !== senderDomain) deny("m.room.create: room ID domain does not match the sender's");
    const declared = content.room_version;
    // "Recognised" means a version this server implements. A create event is only ever checked
    // under the version it declares, so a mismatch (including the absent => "1" default) is a bug
    // in the caller or a forged event; both must not pass.
    if (declared !== undefined && !isSupportedRoomVersion(declared))
      deny(`m.room.create: unrecognised room version ${JSON.stringify(declared)}`);
    if ((declared ?? '1') !== version)
      deny(`m.room.create: declares room version ${JSON.stringify(declared ?? '1')}, checked as ${version}`);
    if (rules.createContentHasCreator && !hasOwn(content, 'creator')) deny('m.room.create: content has no creator');
    return;
  }

  // Rule 2.4 (against the state rather than the list): every other event needs the create event.
  const create = authState.get('m.room.create', '');
  if (!create) deny('No m.room.create event in the room state');
  if (create.room_id !== event.room_id) deny('The m.room.create event belongs to another room');

  // Rule 3: m.federate = false keeps out every server but the creator's.
  if (isObject(create.content) && create.content['m.federate'] === false && senderDomain !== domainOf(create.sender)) {
    deny('This room does not allow users from other servers');
  }

  const pl = authState.get('m.room.power_levels', '')?.content as PowerLevelsInput;
  const levelOf = (userId: string) => userLevel(pl, userId, create, version);
  const senderMembership = membershipOf(authState.get('m.room.member', event.sender));
  const senderLevel = levelOf(event.sender);

  // Rule 4: m.room.member.
  if (event.type === 'm.room.member') {
    checkMembership(event, content, { authState, version, create, pl, levelOf, senderMembership, senderLevel, options });
    return;
  }

  // Rule 5.
  if (senderMembership !== 'join') deny(`${event.sender} is not joined to the room`);

  // Rule 6: third-party invites need the invite level, regardless of `events`.
  if (event.type === 'm.room.third_party_invite') {
    const inviteLevel = membershipActionLevel(pl, 'invite');
    if (senderLevel < inviteLevel) deny(`Sending a third-party invite needs power level ${inviteLevel}, sender has ${senderLevel}`);
    return;
  }

  // Rule 7. Note that m.room.redaction is held only to this generic level: the spec is explicit
  // that the *redact* level is not part of the auth rules but of applying the redaction (canRedact).
  const isState = typeof event.state_key === 'string';
  const required = eventLevelRequired(pl, event.type, isState);
  if (senderLevel < required) deny(`Sending ${event.type} needs power level ${required}, sender has ${senderLevel}`);

  // Rule 8: state keyed by a user id belongs to that user.
  if (isState && event.state_key!.startsWith('@') && event.state_key !== event.sender) {
    deny(`Only ${event.state_key} may set state under their own user ID`);
  }

  // Rule 9.
  if (event.type === 'm.room.power_levels') {
    const reason = checkPowerLevelsChange(content, pl, event.sender, senderLevel);
    if (reason !== undefined) deny(reason);
  }
  // Rule 10: allow.
}

interface MembershipContext {
  authState: AuthState;
  version: RoomVersionId;
  create: AnyPdu;
  pl: PowerLevelsInput;
  levelOf: (userId: string) => number;
  senderMembership: string | undefined;
  senderLevel: number;
  options: AuthOptions;
}

function checkMembership(event: AnyPdu, content: Record<string, unknown>, ctx: MembershipContext): void {
  const { authState, pl, levelOf, senderMembership, senderLevel } = ctx;
  const target = event.state_key;
  const membership = content.membership;
  // Rule 4.1.
  if (typeof target !== 'string') deny('m.room.member must have a state_key');
  if (typeof membership !== 'string') deny('m.room.member content must have a membership');

  // Rule 4.2: the authorising user's server must have signed a restricted join.
  const authoriser = content.join_authorised_via_users_server;
  if (authoriser !== undefined && authoriser !== null) {
    const server = domainOf(authoriser);
    if (server === undefined) deny('join_authorised_via_users_server is not a user ID');
    if (!isSignedBy(event, server, ctx.options)) deny(`Event is not signed by ${server}, the server of join_authorised_via_users_server`);
  }

  const targetMembership = membershipOf(authState.get('m.room.member', target)) ?? 'leave';
  const joinRulesEvent = authState.get('m.room.join_rules', '');
  // A room without m.room.join_rules is treated as invite-only, as Synapse does; the spec's text
  // would reject every join then, which differs only for an invited user in such a room.
  const joinRule = joinRulesEvent ? (joinRulesEvent.content as Record<string, unknown>).join_rule : 'invite';

  switch (membership) {
    case 'join':
      return checkJoin(event, content, target, joinRule, ctx);

    case 'invite': {
      // Rule 4.4.1: an invite backed by an identity server's signature.
      if (hasOwn(content, 'third_party_invite')) {
        if (targetMembership === 'ban') deny(`${target} is banned from the room`);
        checkThirdPartyInvite(event, content.third_party_invite, target, authState);
        return;
      }
      if (senderMembership !== 'join') deny(`${event.sender} is not joined to the room`);
      if (targetMembership === 'join') deny(`${target} is already in the room`);
      if (targetMembership === 'ban') deny(`${target} is banned from the room`);
      const inviteLevel = membershipActionLevel(pl, 'invite');
      if (senderLevel < inviteLevel) deny(`Inviting needs power level ${inviteLevel}, sender has ${senderLevel}`);
      return;
    }

    case 'leave': {
      // Rule 4.5.1: leaving, or rejecting an invite / rescinding a knock.
      if (event.sender === target) {
        if (senderMembership === 'invite' || senderMembership === 'join' || senderMembership === 'knock') return;
        deny(`${target} cannot leave a room with membership ${senderMembership ?? 'leave'}`);
      }
      if (senderMembership !== 'join') deny(`${event.sender} is not joined to the room`);
      const banLevel = membershipActionLevel(pl, 'ban');
      if (targetMembership === 'ban' && senderLevel < banLevel) deny(`Unbanning needs power level ${banLevel}, sender has ${senderLevel}`);
      const kickLevel = membershipActionLevel(pl, 'kick');
      if (senderLevel < kickLevel) deny(`Kicking needs power level ${kickLevel}, sender has ${senderLevel}`);
      if (levelOf(target) >= senderLevel) deny(`${target} has a power level not lower than the sender's`);
      return;
    }

    case 'ban': {
      if (senderMembership !== 'join') deny(`${event.sender} is not joined to the room`);
      const banLevel = membershipActionLevel(pl, 'ban');
      if (senderLevel < banLevel) deny(`Banning needs power level ${banLevel}, sender has ${senderLevel}`);
      if (levelOf(target) >= senderLevel) deny(`${target} has a power level not lower than the sender's`);
      return;
    }

    case 'knock':
      if (joinRule !== 'knock' && joinRule !== 'knock_restricted') deny('This room does not accept knocks');
      if (event.sender !== target) deny('Users can only knock on their own behalf');
      if (senderMembership === 'ban') deny(`${target} is banned from the room`);
      if (senderMembership === 'invite' || senderMembership === 'join')
        deny(`${target} is already ${senderMembership === 'join' ? 'in' : 'invited to'} the room`);
      return;

    default:
      deny(`Unknown membership ${JSON.stringify(membership)}`);
  }
}

/** Rule 4.3. */
function checkJoin(event: AnyPdu, content: Record<string, unknown>, target: string, joinRule: unknown, ctx: MembershipContext): void {
  const { authState, pl, levelOf, senderMembership } = ctx;
  if (isCreatorsFirstJoin(event, target, ctx)) return;
  if (event.sender !== target) deny('Users cannot be made to join by someone else');
  if (senderMembership === 'ban') deny(`${target} is banned from the room`);
  const invitedOrJoined = senderMembership === 'invite' || senderMembership === 'join';

  if (joinRule === 'invite' || joinRule === 'knock') {
    if (invitedOrJoined) return;
    deny(`${target} has not been invited to this room`);
  }
  if (joinRule === 'restricted' || joinRule === 'knock_restricted') {
    if (invitedOrJoined) return;
    // Whether the user satisfies the `allow` conditions (membership of another room) is checked
    // by the authorising server before it signs; the rules only check that it could authorise.
    const authoriser = content.join_authorised_via_users_server;
    if (typeof authoriser !== 'string') deny('A restricted join needs join_authorised_via_users_server');
    if (membershipOf(authState.get('m.room.member', authoriser)) !== 'join') deny(`${authoriser} is not joined to the room`);
    const inviteLevel = membershipActionLevel(pl, 'invite');
    if (levelOf(authoriser) < inviteLevel) deny(`${authoriser} does not have the power to invite`);
    return;
  }
  if (joinRule === 'public') return;
  deny(`Cannot join a room with join rule ${JSON.stringify(joinRule)}`);
}

/**
 * Rule 4.3.1: "the only previous event is an m.room.create and the state_key is the creator".
 * The create event's id is its `event_id` field when the stored object carries one, else its
 * reference hash. A create event still being built has neither; then the state itself tells:
 * before the creator's first join the room holds nothing but the create event.
 */
function isCreatorsFirstJoin(event: AnyPdu, target: string, ctx: MembershipContext): boolean {
  const { create, version, authState } = ctx;
  if (!Array.isArray(event.prev_events) || event.prev_events.length !== 1) return false;
  if (target !== roomCreatorOf(create, version) || event.sender !== target) return false;
  const storedId = (create as { event_id?: unknown }).event_id;
  if (typeof storedId === 'string') return event.prev_events[0] === storedId;
  if (hasOwn(create, 'hashes')) return event.prev_events[0] === computeEventId(create, version);
  return !authState.get('m.room.member', target) && !authState.get('m.room.power_levels', '') && !authState.get('m.room.join_rules', '');
}

function isSignedBy(event: AnyPdu, server: string, options: AuthOptions): boolean {
  if (options.isSignedBy) return options.isSignedBy(server);
  const signatures = (event as { signatures?: unknown }).signatures;
  // An event still being built has no signatures yet: this server signs it next, and locally
  // built restricted joins are authorised by a local user, so the signature will be this one.
  if (signatures === undefined) return true;
  const fromServer = isObject(signatures) ? signatures[server] : undefined;
  return isObject(fromServer) && Object.keys(fromServer).length > 0;
}

/** Rules 4.4.1.2-8: the identity server's signed token must match an m.room.third_party_invite. */
function checkThirdPartyInvite(event: AnyPdu, tpi: unknown, target: string, authState: AuthState): void {
  const signed = isObject(tpi) ? tpi.signed : undefined;
  if (!isObject(signed)) deny('third_party_invite has no signed block');
  const { mxid, token } = signed;
  if (typeof mxid !== 'string' || typeof token !== 'string') deny('third_party_invite.signed needs mxid and token');
  if (mxid !== target) deny('third_party_invite.signed.mxid does not match the invited user');
  const invite = authState.get('m.room.third_party_invite', token);
  if (!invite) deny('No m.room.third_party_invite for this token');
  if (invite.sender !== event.sender) deny('Only the sender of the third-party invite may complete it');

  const inviteContent = isObject(invite.content) ? invite.content : {};
  const publicKeys: string[] = [];
  if (typeof inviteContent.public_key === 'string') publicKeys.push(inviteContent.public_key);
  if (Array.isArray(inviteContent.public_keys)) {
    for (const k of inviteContent.public_keys) if (isObject(k) && typeof k.public_key === 'string') publicKeys.push(k.public_key);
  }
  const signatures = isObject(signed.signatures) ? signed.signatures : {};
  for (const [server, keys] of Object.entries(signatures)) {
    if (!isObject(keys)) continue;
    for (const keyId of Object.keys(keys)) {
      for (const publicKey of publicKeys) {
        if (verifyJsonSignature(signed, server, keyId, publicKey)) return;
      }
    }
  }
  deny('third_party_invite.signed is not signed by any key of the m.room.third_party_invite');
}

/**
 * The (type, state_key) pairs an event's auth_events are chosen from (spec S-S "Auth events
 * selection"): the create event, power levels, the sender's membership and, for memberships, the
 * target's membership, the join rules (join/invite/knock), the third-party invite being claimed
 * and the authorising user's membership of a restricted join. An m.room.create has none.
 */
export function authEventKeysFor(event: Pick<AnyPdu, 'type' | 'sender' | 'state_key' | 'content'>): [string, string][] {
  if (event.type === 'm.room.create') return [];
  const keys: [string, string][] = [
    ['m.room.create', ''],
    ['m.room.power_levels', ''],
    ['m.room.member', event.sender],
  ];
  if (event.type === 'm.room.member' && typeof event.state_key === 'string') {
    const content = isObject(event.content) ? event.content : {};
    const membership = content.membership;
    keys.push(['m.room.member', event.state_key]);
    if (membership === 'join' || membership === 'invite' || membership === 'knock') keys.push(['m.room.join_rules', '']);
    if (membership === 'invite' && isObject(content.third_party_invite)) {
      const signed = content.third_party_invite.signed;
      if (isObject(signed) && typeof signed.token === 'string') keys.push(['m.room.third_party_invite', signed.token]);
    }
    if (membership === 'join' && typeof content.join_authorised_via_users_server === 'string') {
      keys.push(['m.room.member', content.join_authorised_via_users_server]);
    }
  }
  const seen = new Set<string>();
  return keys.filter(([type, stateKey]) => {
    const k = `${type}\u0000${stateKey}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/**
 * Rule 2 on the event's actual auth events (resolved from its auth_events ids by the caller):
 * no two for the same (type, state_key), each one a pair the selection algorithm allows, an
 * m.room.create among them, all from the event's room. Whether any of them was itself rejected
 * (rule 2.3) is storage knowledge and stays with the caller.
 */
export function checkAuthEvents(event: AnyPdu, authEvents: readonly AnyPdu[], version: RoomVersionId): void {
  getRoomVersionRules(version);
  if (event.type === 'm.room.create') {
    if (authEvents.length > 0) deny('m.room.create must not have auth events');
    return;
  }
  const allowed = new Set(authEventKeysFor(event).map(([t, k]) => `${t}\u0000${k}`));
  const seen = new Set<string>();
  let hasCreate = false;
  for (const authEvent of authEvents) {
    if (typeof authEvent.state_key !== 'string') deny(`Auth event of type ${authEvent.type} is not a state event`);
    const key = `${authEvent.type}\u0000${authEvent.state_key}`;
    if (seen.has(key)) deny(`Duplicate auth events for (${authEvent.type}, ${authEvent.state_key})`);
    seen.add(key);
    if (!allowed.has(key)) deny(`Auth event (${authEvent.type}, ${authEvent.state_key}) is not one this event may cite`);
    if (authEvent.room_id !== event.room_id) deny('Auth event belongs to another room');
    if (authEvent.type === 'm.room.create') hasCreate = true;
  }
  if (!hasCreate) deny('Auth events do not include the m.room.create event');
}

/**
 * Whether a redaction that passed the auth rules should actually be applied to `targetEvent`
 * (spec "Handling redactions", v3+): when the redacting user has the redact level, or is on the
 * same server as the target's sender (that server is trusted to have checked its own user; a
 * client API refusing local users' redactions of others' events without the redact level is a
 * separate, local check). The caller matches the redaction's target id to `targetEvent`.
 */
export function canRedact(redactionEvent: AnyPdu, targetEvent: AnyPdu, authState: AuthState, version: RoomVersionId): boolean {
  getRoomVersionRules(version);
  if (redactionEvent.type !== 'm.room.redaction') return false;
  if (redactionEvent.room_id !== targetEvent.room_id) return false;
  const create = authState.get('m.room.create', '');
  const pl = authState.get('m.room.power_levels', '')?.content as PowerLevelsInput;
  if (userLevel(pl, redactionEvent.sender, create, version) >= membershipActionLevel(pl, 'redact')) return true;
  const domain = domainOf(redactionEvent.sender);
  return domain !== undefined && domain === domainOf(targetEvent.sender);
}
