import type { Pdu } from '../../matrix/pdu.js';
import { redactEvent } from '../../matrix/redaction.js';
import type { RoomVersionId } from '../../matrix/room-versions.js';

/** An hs_events row as the read queries select it (with the redaction event joined in). */
export interface EventRow {
  event_id: string;
  stream_ordering: number;
  json: string;
  unsigned: string | null;
  txn_device: string | null;
  txn_id: string | null;
  room_version: string;
  redaction_json: string | null;
  redacted_by: string | null;
}

export const EVENT_COLUMNS = `e.event_id, e.stream_ordering, e.json, e.unsigned, e.txn_device, e.txn_id, r.room_version,
  e.redacted_by, red.json AS redaction_json`;
export const EVENT_JOINS = `JOIN hs_rooms r ON r.room_id = e.room_id LEFT JOIN hs_events red ON red.event_id = e.redacted_by`;

export interface ClientEvent {
  event_id: string;
  room_id: string;
  sender: string;
  type: string;
  state_key?: string;
  content: Record<string, unknown>;
  origin_server_ts: number;
  redacts?: string;
  unsigned: Record<string, unknown>;
}

export interface Viewer {
  userId: string;
  deviceId?: string;
}

/**
 * The client-server format of a stored event (spec "ClientEvent"): no DAG or signature fields,
 * unsigned.age, the sender's own transaction_id, prev_content of state events, and redacted
 * events pruned with unsigned.redacted_because.
 */
export function toClientEvent(row: EventRow, viewer?: Viewer, now = Date.now()): ClientEvent {
  const version = row.room_version as RoomVersionId;
  let pdu = JSON.parse(row.json) as Pdu;
  const unsigned: Record<string, unknown> = row.unsigned ? JSON.parse(row.unsigned) : {};
  if (row.redaction_json) {
    pdu = redactEvent(pdu, version);
    const redaction = JSON.parse(row.redaction_json) as Pdu;
    unsigned.redacted_because = pduToClient(redaction, version, {}, now, row.redacted_by ?? undefined);
    delete unsigned.prev_content;
  }
  unsigned.age = Math.max(0, now - pdu.origin_server_ts);
  if (viewer && row.txn_id && row.txn_device === viewer.deviceId && pdu.sender === viewer.userId) unsigned.transaction_id = row.txn_id;
  return pduToClient(pdu, version, unsigned, now, row.event_id);
}

export function pduToClient(
  pdu: Pdu,
  version: RoomVersionId,
  unsigned: Record<string, unknown>,
  now: number,
  eventId?: string,
): ClientEvent {
  const out: ClientEvent = {
    event_id: eventId ?? (pdu as unknown as { event_id: string }).event_id,
    room_id: pdu.room_id,
    sender: pdu.sender,
    type: pdu.type,
    content: pdu.content,
    origin_server_ts: pdu.origin_server_ts,
    unsigned: { age: Math.max(0, now - pdu.origin_server_ts), ...unsigned },
  };
  if (pdu.state_key !== undefined) out.state_key = pdu.state_key;
  // Clients read `redacts` at the top level in every room version (v11 keeps a copy in content).
  const redacts = pdu.redacts ?? (version === '11' ? (pdu.content.redacts as string | undefined) : undefined);
  if (pdu.type === 'm.room.redaction' && redacts) out.redacts = redacts;
  return out;
}
