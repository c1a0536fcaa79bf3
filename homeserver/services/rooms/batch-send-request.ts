import { MatrixError } from '../../matrix/errors.js';
import { parseEventId, parseUserId } from '../../matrix/ids.js';

/** One event of a batch, as the bridge describes it (mautrix-go sends whole `event.Event`s). */
export interface BatchEventInput {
  type: string;
  sender: string;
  content: Record<string, unknown>;
  origin_server_ts?: number;
  state_key?: string;
  redacts?: string;
  /** mautrix-go precomputes ids (`$<hash>:backfill.<domain>`), stores them and ignores the response. */
  event_id?: string;
}

/** The body of `POST /_matrix/client/unstable/com.beeper.backfill/rooms/{roomId}/batch_send`. */
export interface BatchSendRequest {
  forward: boolean;
  forward_if_no_messages: boolean;
  send_notification: boolean;
  mark_read_by?: string;
  /** Oldest first. */
  events: BatchEventInput[];
}

/** More than a bridge's page of history (mautrix sends about 100 at a time), but bounded. */
export const MAX_BATCH_EVENTS = 1000;

/**
 * Validates a batch_send body. Wrong shapes are M_BAD_JSON, wrong values M_INVALID_PARAM, and each
 * message names the field (`events[3].sender`), so a bridge author can see which event was refused.
 */
export function parseBatchSendRequest(body: unknown, roomId: string): BatchSendRequest {
  if (!isObject(body)) throw MatrixError.badJson('Body must be a JSON object');
  const flag = (name: string): boolean => {
    const v = body[name];
    if (v === undefined || v === null) return false;
    if (typeof v !== 'boolean') throw MatrixError.badJson(`${name} must be a boolean`);
    return v;
  };
  const req: BatchSendRequest = {
    forward: flag('forward'),
    forward_if_no_messages: flag('forward_if_no_messages'),
    send_notification: flag('send_notification'),
    events: [],
  };
  if (body.mark_read_by !== undefined && body.mark_read_by !== null && body.mark_read_by !== '') {
    if (typeof body.mark_read_by !== 'string') throw MatrixError.badJson('mark_read_by must be a user ID');
    req.mark_read_by = parseUserId(body.mark_read_by);
  }
  if (!Array.isArray(body.events)) throw MatrixError.badJson('events must be a list of events');
  if (body.events.length > MAX_BATCH_EVENTS) throw MatrixError.invalidParam(`At most ${MAX_BATCH_EVENTS} events per batch`);
  const seen = new Set<string>();
  req.events = body.events.map((raw: unknown, i: number) => {
    const event = parseEvent(raw, `events[${i}]`, roomId);
    if (event.event_id !== undefined) {
      if (seen.has(event.event_id)) throw MatrixError.invalidParam(`events[${i}].event_id is repeated in the batch`);
      seen.add(event.event_id);
    }
    return event;
  });
  return req;
}

function parseEvent(raw: unknown, at: string, roomId: string): BatchEventInput {
  if (!isObject(raw)) throw MatrixError.badJson(`${at} must be an object`);
  if (typeof raw.type !== 'string' || raw.type === '') throw MatrixError.badJson(`${at}.type must be a non-empty string`);
  if (typeof raw.sender !== 'string') throw MatrixError.badJson(`${at}.sender must be a user ID`);
  if (!isObject(raw.content)) throw MatrixError.badJson(`${at}.content must be an object`);
  const event: BatchEventInput = {
    type: raw.type,
    sender: labelled(at, 'sender', () => parseUserId(raw.sender as string)),
    content: raw.content,
  };
  const ts = raw.origin_server_ts;
  if (ts !== undefined && ts !== null) {
    if (typeof ts !== 'number' || !Number.isSafeInteger(ts) || ts < 0)
      throw MatrixError.badJson(`${at}.origin_server_ts must be a non-negative integer`);
    event.origin_server_ts = ts;
  }
  if (raw.state_key !== undefined && raw.state_key !== null) {
    if (typeof raw.state_key !== 'string') throw MatrixError.badJson(`${at}.state_key must be a string`);
    event.state_key = raw.state_key;
  }
  if (raw.redacts !== undefined && raw.redacts !== null) {
    if (typeof raw.redacts !== 'string') throw MatrixError.badJson(`${at}.redacts must be an event ID`);
    event.redacts = labelled(at, 'redacts', () => parseEventId(raw.redacts as string));
  }
  // An empty id is treated as absent, as other clients may serialise an unset id that way.
  if (raw.event_id !== undefined && raw.event_id !== null && raw.event_id !== '') {
    if (typeof raw.event_id !== 'string') throw MatrixError.badJson(`${at}.event_id must be an event ID`);
    event.event_id = labelled(at, 'event_id', () => parseEventId(raw.event_id as string));
  }
  if (raw.room_id !== undefined && raw.room_id !== null && raw.room_id !== '' && raw.room_id !== roomId)
    throw MatrixError.invalidParam(`${at}.room_id is not the room of the request`);
  return event;
}

/** Runs an id parser and prefixes its M_INVALID_PARAM with the field it came from. */
function labelled<T>(at: string, field: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof MatrixError) throw new MatrixError(err.errcode, `${at}.${field}: ${err.message}`);
    throw err;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
