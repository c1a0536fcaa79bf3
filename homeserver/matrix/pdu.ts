import { getRoomVersionRules, type RoomVersionId } from './room-versions.js';

/**
 * A PDU (persistent data unit) as it travels between servers in room versions 10 and 11 (spec
 * "pdu_v6"/"pdu_v11" definitions). There is no `event_id`: since v3 the id is derived from the
 * event's reference hash (see event-hashes.ts), so storing it inside the event would change it.
 */
export interface Pdu {
  room_id: string;
  sender: string;
  type: string;
  /** Present (possibly empty) exactly when this is a state event. */
  state_key?: string;
  content: Record<string, unknown>;
  origin_server_ts: number;
  prev_events: string[];
  auth_events: string[];
  depth: number;
  hashes: { sha256: string };
  /** server name -> key id -> unpadded base64 signature. */
  signatures: Record<string, Record<string, string>>;
  /** Data added in transit (age, prev_content...): not covered by hashes or signatures. */
  unsigned?: Record<string, unknown>;
  /**
   * v10 only, m.room.redaction: the redacted event's id. v11 moved it to `content.redacts`, but
   * servers still add a top-level copy when serving v11 redactions to clients; see redactsOf().
   */
  redacts?: string;
}

/** An event being built: everything but the content hash and signatures (see signing.ts). */
export type UnsignedPdu = Omit<Pdu, 'hashes' | 'signatures'>;

/** Any event in PDU form, signed or not. */
export type AnyPdu = Pdu | UnsignedPdu;

export function isStateEvent(event: { state_key?: unknown }): boolean {
  return typeof event.state_key === 'string';
}

/** content.membership of an m.room.member event, if it is a string. */
export function membershipOf(event: { content?: Record<string, unknown> } | undefined): string | undefined {
  const m = event?.content?.membership;
  return typeof m === 'string' ? m : undefined;
}

/**
 * The id of the event an m.room.redaction redacts, read where the room version puts it:
 * `content.redacts` in v11, the top-level `redacts` in v10. The other place is ignored because it
 * is not covered by that version's rules (in v10 a content.redacts would be redacted away, and in
 * v11 a top-level `redacts` is not part of the event format), so trusting it would let a sender
 * point one event at two targets.
 */
export function redactsOf(
  event: { type?: string; redacts?: unknown; content?: Record<string, unknown> },
  version: RoomVersionId,
): string | undefined {
  if (event.type !== 'm.room.redaction') return undefined;
  const value = getRoomVersionRules(version).redactsInContent ? event.content?.redacts : event.redacts;
  return typeof value === 'string' ? value : undefined;
}

/**
 * A copy of a redaction event with `redacts` in both places, as the spec asks servers to serve
 * redactions to clients: old clients read the top level, new ones read content. Other events are
 * returned unchanged.
 */
export function withClientRedacts<T extends { type?: string; redacts?: unknown; content?: Record<string, unknown> }>(
  event: T,
  version: RoomVersionId,
): T {
  const target = redactsOf(event, version);
  if (target === undefined) return event;
  return { ...event, redacts: target, content: { ...event.content, redacts: target } };
}
