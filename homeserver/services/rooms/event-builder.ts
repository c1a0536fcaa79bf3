import type { UnsignedPdu } from '../../matrix/pdu.js';
import type { RoomVersionId } from '../../matrix/room-versions.js';
import { checkEventAuth, authEventKeysFor } from '../../matrix/auth-rules.js';
import { hashSignAndIdentify } from '../../matrix/signing.js';
import type { SigningKey } from '../../matrix/signing.js';
import { MatrixError } from '../../matrix/errors.js';
import type { RoomStateOverlay, StoredEvent } from './room-state.js';

/** What a service asks to be sent into a room; the builder adds the DAG fields, hashes and signature. */
export interface EventDraft {
  type: string;
  sender: string;
  content: Record<string, unknown>;
  state_key?: string;
  redacts?: string;
  /** Appservices may set the timestamp (spec `ts` parameter); everyone else gets the server's clock. */
  origin_server_ts?: number;
  /** The sending device's transaction, so the sender's own copy carries unsigned.transaction_id. */
  txn?: { deviceId: string; txnId: string };
}

export interface BuiltEvent extends StoredEvent {
  depth: number;
  /** The PDU serialised once for storage. */
  json: string;
  draft: EventDraft;
  /** Client-side extras stored next to the PDU: prev_content/replaces_state of state events. */
  unsigned?: Record<string, unknown>;
}

export const MAX_EVENT_BYTES = 65_536;

export interface Signer {
  serverName: string;
  key: SigningKey;
}

/**
 * Builds the next event of a room on top of `view`: prev_events = the single head (Causeway is the
 * only server in its rooms), auth_events selected from the current state, then the room version's
 * authorization rules, content hash, signature and reference-hash event id. Throws M_FORBIDDEN when
 * the auth rules reject the event; the view is not changed then.
 */
export function buildEvent(draft: EventDraft, view: RoomStateOverlay, roomId: string, version: RoomVersionId, signer: Signer): BuiltEvent {
  const depth = view.headDepth + 1;
  const unsigned: UnsignedPdu = {
    room_id: roomId,
    sender: draft.sender,
    type: draft.type,
    content: draft.content,
    origin_server_ts: draft.origin_server_ts ?? Date.now(),
    depth,
    prev_events: view.headEventId ? [view.headEventId] : [],
    auth_events: [],
  };
  if (draft.state_key !== undefined) unsigned.state_key = draft.state_key;
  if (draft.redacts !== undefined) {
    // Room v11 moved `redacts` into content; v10 keeps it at the top level.
    if (version === '11') unsigned.content = { ...draft.content, redacts: draft.redacts };
    else unsigned.redacts = draft.redacts;
  }
  if (draft.type !== 'm.room.create') {
    unsigned.auth_events = authEventKeysFor(unsigned)
      .map(([type, stateKey]) => view.getStored(type, stateKey)?.eventId)
      .filter((id): id is string => id !== undefined);
  }
  checkEventAuth(unsigned, view, version);

  const { pdu, eventId } = hashSignAndIdentify(unsigned, version, signer.serverName, signer.key);
  const json = JSON.stringify(pdu); // stored as is; same length as the canonical form (only key order differs)
  if (Buffer.byteLength(json) > MAX_EVENT_BYTES) throw new MatrixError('M_TOO_LARGE', 'Event is larger than 64 KiB');

  let extras: Record<string, unknown> | undefined;
  if (draft.state_key !== undefined) {
    const previous = view.getStored(draft.type, draft.state_key);
    if (previous) extras = { replaces_state: previous.eventId, prev_content: previous.pdu.content, prev_sender: previous.pdu.sender };
  }
  return { eventId, pdu, json, depth, draft, unsigned: extras };
}
