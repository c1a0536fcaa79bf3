import { MatrixError } from '../../matrix/errors.js';
import { parseRoomId } from '../../matrix/ids.js';
import type { AppserviceRegistry } from '../appservices/registry-port.js';
import type { Requester } from '../requester.js';
import { parseBatchSendRequest, type BatchEventInput, type BatchSendRequest } from './batch-send-request.js';
import type { EventDraft, Signer } from './event-builder.js';
import { HistoryWriter } from './history-writer.js';
import type { RoomsContext } from './rooms-context.js';

export interface BatchSendDeps {
  ctx: RoomsContext;
  signer: Signer;
  appservices?: AppserviceRegistry;
  /** Moves a user's m.read receipt (mark_read_by); the receipts service. */
  markRead(userId: string, roomId: string, eventId: string): Promise<void>;
}

/**
 * History import for appservices (Beeper's `com.beeper.backfill` batch_send, which mautrix bridges
 * call). A batch is appended at the live end ("forward": through RoomInput like any send, one
 * job, so all-or-nothing and strictly after what came before) or inserted before the room's
 * first event ("backward": HistoryWriter, negative positions). Forward is chosen by `forward`, or
 * by `forward_if_no_messages` while the room has no messages yet (a portal's first backfill).
 */
export class BatchSend {
  private history: HistoryWriter;
  /** Per-room chain of batches in this process: the event-id check and the write happen together. */
  private rooms = new Map<string, Promise<unknown>>();

  constructor(private deps: BatchSendDeps) {
    this.history = new HistoryWriter(deps.ctx.db, deps.signer);
  }

  async send(requester: Requester, roomIdText: string, body: unknown): Promise<{ event_ids: string[] }> {
    const registration = requester.appserviceId ? this.deps.appservices?.byId(requester.appserviceId) : undefined;
    if (!registration) throw MatrixError.forbidden('Only application services may batch send');
    const roomId = parseRoomId(roomIdText);
    const req = parseBatchSendRequest(body, roomId);
    // The appservice speaks for its own users (and the user it masquerades as), nobody else.
    req.events.forEach((e, i) => {
      if (e.sender !== requester.userId && !this.deps.appservices!.ownsUser(registration, e.sender))
        throw MatrixError.forbidden(`events[${i}]: the application service does not control ${e.sender}`);
    });
    const room = await this.deps.ctx.cache.get(roomId);
    if (!room) throw MatrixError.notFound('Unknown room');
    if (req.mark_read_by && room.membershipOf(req.mark_read_by) !== 'join')
      throw MatrixError.forbidden('mark_read_by must be a user joined to the room');
    if (!req.events.length) return { event_ids: [] };
    return this.serialised(roomId, async () => {
      const retried = await this.existingIds(roomId, req.events);
      if (retried) return { event_ids: retried };
      const forward = req.forward || (req.forward_if_no_messages && !(await this.hasMessages(roomId)));
      return { event_ids: forward ? await this.appendLive(roomId, req) : await this.insertHistory(roomId, req.events) };
    });
  }

  private async appendLive(roomId: string, req: BatchSendRequest): Promise<string[]> {
    const committed = await this.deps.ctx.input.submit(roomId, req.events.map(toDraft), {
      eventIds: req.events.map((e) => e.event_id),
      silent: !req.send_notification,
      labelErrors: true,
    });
    const ids = committed.map((c) => c.eventId);
    // The events are durable by now, so a receipt refused meanwhile (the user just left) must not turn
    // the batch into an error the bridge would retry; membership was checked before writing.
    if (req.mark_read_by)
      await this.deps.markRead(req.mark_read_by, roomId, ids[ids.length - 1]!).catch((err: unknown) => {
        if (!(err instanceof MatrixError)) throw err;
      });
    return ids;
  }

  /** History has no unread state to mark: it is older than anything a receipt could point at. */
  private async insertHistory(roomId: string, events: BatchEventInput[]): Promise<string[]> {
    events.forEach((e, i) => {
      // Historical state would rewrite the state the room's later events were authorised against.
      if (e.state_key !== undefined) throw MatrixError.invalidParam(`events[${i}]: state events cannot be inserted into history`);
    });
    const room = await this.deps.ctx.cache.get(roomId); // fresh: the cache may have reloaded it meanwhile
    if (!room) throw MatrixError.notFound('Unknown room');
    return this.history.insert(
      room,
      events.map(toDraft),
      events.map((e) => e.event_id),
    );
  }

  /**
   * Caller-chosen ids must be new. If every event of the batch already exists in this room, the
   * batch is a retry of one that succeeded (bridges retry on timeouts): its ids are the answer.
   */
  private async existingIds(roomId: string, events: BatchEventInput[]): Promise<string[] | undefined> {
    const chosen = events.flatMap((e) => (e.event_id ? [e.event_id] : []));
    if (!chosen.length) return undefined;
    const { rows } = await this.deps.ctx.db.query<{ event_id: string; room_id: string }>(
      'SELECT event_id, room_id FROM hs_events WHERE event_id = ANY($1)',
      [chosen],
    );
    if (!rows.length) return undefined;
    if (chosen.length === events.length && rows.length === events.length && rows.every((r) => r.room_id === roomId)) return chosen;
    const taken = new Set(rows.map((r) => r.event_id));
    const i = events.findIndex((e) => e.event_id !== undefined && taken.has(e.event_id));
    throw MatrixError.invalidParam(`events[${i}].event_id already exists`);
  }

  /** Messages, not state: a portal's dummy marker events (fi.mau.dummy.*) do not count either. */
  private async hasMessages(roomId: string): Promise<boolean> {
    const { rows } = await this.deps.ctx.db.query<{ found: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM hs_events WHERE room_id = $1 AND state_key IS NULL AND type NOT LIKE 'fi.mau.dummy.%') AS found`,
      [roomId],
    );
    return rows[0]!.found;
  }

  private serialised<T>(roomId: string, run: () => Promise<T>): Promise<T> {
    const previous = this.rooms.get(roomId) ?? Promise.resolve();
    const next = previous.then(run, run);
    const tail = next.catch(() => {});
    this.rooms.set(roomId, tail);
    void tail.then(() => {
      if (this.rooms.get(roomId) === tail) this.rooms.delete(roomId);
    });
    return next;
  }
}

function toDraft(e: BatchEventInput): EventDraft {
  const draft: EventDraft = { type: e.type, sender: e.sender, content: e.content };
  if (e.origin_server_ts !== undefined) draft.origin_server_ts = e.origin_server_ts;
  if (e.state_key !== undefined) draft.state_key = e.state_key;
  if (e.redacts !== undefined) draft.redacts = e.redacts;
  return draft;
}
