import { expect } from 'vitest';
import { checkEventAuth, type AuthOptions, type AuthState } from '../../../homeserver/matrix/auth-rules.js';
import { MatrixError } from '../../../homeserver/matrix/errors.js';
import type { AnyPdu, UnsignedPdu } from '../../../homeserver/matrix/pdu.js';
import type { RoomVersionId } from '../../../homeserver/matrix/room-versions.js';

/**
 * Small builders for auth-rule tests: a room whose state is a plain map, filled by helpers
 * (create, memberships, power levels, join rules) instead of hand-written JSON per test.
 */

export const SERVER = 'example.org';
export const ROOM_ID = `!room:${SERVER}`;
export const ALICE = `@alice:${SERVER}`; // the creator, level 100
export const BOB = `@bob:${SERVER}`;
export const CAROL = `@carol:${SERVER}`;
export const DAVE = `@dave:${SERVER}`;
export const REMOTE = '@eve:remote.test';

/** The power levels a room starts with (the values the spec's room creation uses). */
export function defaultPowerLevels(users: Record<string, number> = { [ALICE]: 100 }): Record<string, unknown> {
  return {
    users,
    users_default: 0,
    events: { 'm.room.name': 50, 'm.room.power_levels': 100, 'm.room.history_visibility': 100 },
    events_default: 0,
    state_default: 50,
    ban: 50,
    kick: 50,
    redact: 50,
    invite: 0,
  };
}

let counter = 0;

export class TestRoom implements AuthState {
  readonly state = new Map<string, AnyPdu>();

  constructor(
    readonly version: RoomVersionId,
    readonly roomId = ROOM_ID,
  ) {}

  get(type: string, stateKey: string): AnyPdu | undefined {
    return this.state.get(`${type}\u0000${stateKey}`);
  }

  /** Puts an event into the state without checking it (test setup). */
  put(event: AnyPdu): this {
    if (event.state_key === undefined) throw new Error('put() needs a state event');
    this.state.set(`${event.type}\u0000${event.state_key}`, event);
    return this;
  }

  /** An event in this room with a made-up prev event (the rules only count prev_events). */
  event(type: string, sender: string, content: Record<string, unknown>, stateKey?: string, extra: Partial<UnsignedPdu> = {}): UnsignedPdu {
    counter += 1;
    const ev: UnsignedPdu = {
      room_id: this.roomId,
      sender,
      type,
      content,
      origin_server_ts: 1_700_000_000_000 + counter,
      prev_events: [`$prev${counter}`],
      auth_events: [],
      depth: counter,
      ...extra,
    };
    if (stateKey !== undefined) ev.state_key = stateKey;
    return ev;
  }

  member(target: string, membership: string, sender = target, content: Record<string, unknown> = {}): UnsignedPdu {
    return this.event('m.room.member', sender, { membership, ...content }, target);
  }

  /** Sets a user's membership in the state directly. */
  setMember(target: string, membership: string, sender = target): this {
    return this.put(this.member(target, membership, sender));
  }

  setPowerLevels(content: Record<string, unknown>, sender = ALICE): this {
    return this.put(this.event('m.room.power_levels', sender, content, ''));
  }

  setJoinRule(joinRule: string, extra: Record<string, unknown> = {}): this {
    return this.put(this.event('m.room.join_rules', ALICE, { join_rule: joinRule, ...extra }, ''));
  }

  check(event: AnyPdu, options?: AuthOptions): void {
    checkEventAuth(event, this, this.version, options);
  }
}

/** The create event of a room of `version` created by `creator`. */
export function createEvent(
  version: RoomVersionId,
  creator = ALICE,
  roomId = ROOM_ID,
  extraContent: Record<string, unknown> = {},
): UnsignedPdu {
  const content: Record<string, unknown> = { room_version: version, ...extraContent };
  if (version === '10') content.creator = creator;
  return {
    room_id: roomId,
    sender: creator,
    type: 'm.room.create',
    state_key: '',
    content,
    origin_server_ts: 1_700_000_000_000,
    prev_events: [],
    auth_events: [],
    depth: 1,
  };
}

export interface RoomOptions {
  /** Omit for the default levels; `null` for a room with no power levels event yet. */
  powerLevels?: Record<string, unknown> | null;
  /** Omit for 'invite'; `null` for a room with no join rules event. */
  joinRule?: string | null;
  /** Extra memberships: user -> membership. */
  members?: Record<string, string>;
  createContent?: Record<string, unknown>;
}

/** A room of `version` after its usual creation: create, creator joined, power levels, join rules. */
export function makeRoom(version: RoomVersionId, opts: RoomOptions = {}): TestRoom {
  const room = new TestRoom(version);
  room.put(createEvent(version, ALICE, ROOM_ID, opts.createContent));
  room.setMember(ALICE, 'join');
  if (opts.powerLevels !== null) room.setPowerLevels(opts.powerLevels ?? defaultPowerLevels());
  if (opts.joinRule !== null) room.setJoinRule(opts.joinRule ?? 'invite');
  for (const [user, membership] of Object.entries(opts.members ?? {})) room.setMember(user, membership);
  return room;
}

export function expectAllowed(room: TestRoom, event: AnyPdu, options?: AuthOptions): void {
  expect(() => room.check(event, options)).not.toThrow();
}

/** Asserts an M_FORBIDDEN whose message matches `reason`. */
export function expectForbidden(room: TestRoom, event: AnyPdu, reason?: RegExp, options?: AuthOptions): void {
  let error: unknown;
  try {
    room.check(event, options);
  } catch (e) {
    error = e;
  }
  expect(error, 'expected the event to be rejected').toBeInstanceOf(MatrixError);
  expect((error as MatrixError).errcode).toBe('M_FORBIDDEN');
  if (reason) expect((error as MatrixError).message).toMatch(reason);
}
