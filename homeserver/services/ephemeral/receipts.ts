import type { Db } from '../../storage/db.js';
import { lockStream } from '../../storage/stream-lock.js';
import type { PubSub } from '../../runtime/ports.js';
import { MatrixError } from '../../matrix/errors.js';
import type { RoomStateCache } from '../rooms/room-state-cache.js';
import type { EventStore } from '../rooms/event-store.js';
import { STREAM_TOPIC } from '../sync/stream-source.js';
import { loadReadPositions, type ReadPositions } from './read-positions.js';

export const RECEIPT_TYPES = ['m.read', 'm.read.private'] as const;
export type ReceiptType = (typeof RECEIPT_TYPES)[number];

/** Read receipts, public and private, threaded or not (spec: "Receipts"). */
export class Receipts {
  constructor(
    private db: Db,
    private pubsub: PubSub,
    private rooms: RoomStateCache,
    private store: EventStore,
  ) {}

  async send(userId: string, roomId: string, type: string, eventId: string, threadId?: string): Promise<void> {
    if (!(RECEIPT_TYPES as readonly string[]).includes(type)) throw MatrixError.invalidParam(`Unsupported receipt type ${type}`);
    if (threadId !== undefined && (typeof threadId !== 'string' || threadId === ''))
      throw MatrixError.invalidParam('thread_id must be a non-empty string');
    const room = await this.rooms.get(roomId);
    if (!room) throw MatrixError.notFound('Unknown room');
    if (room.membershipOf(userId) !== 'join') throw MatrixError.forbidden('You are not joined to this room');
    const event = await this.store.getEvent(eventId);
    if (!event || (JSON.parse(event.json) as { room_id: string }).room_id !== roomId) throw MatrixError.notFound('Event not found');
    // Receipts only move forward: an older event never replaces a newer receipt (as in Synapse).
    const { rows } = await this.db.withTransaction(async (tx) => {
      await lockStream(tx, 'receipts');
      return tx.query<{ stream_id: number }>(
        `INSERT INTO hs_receipts (room_id, receipt_type, user_id, thread_id, event_id, event_stream, ts) VALUES ($1,$2,$3,$4,$5,$6,$7)
       ON CONFLICT (room_id, receipt_type, user_id, thread_id) DO UPDATE
         SET event_id = $5, event_stream = $6, ts = $7, stream_id = nextval(pg_get_serial_sequence('hs_receipts', 'stream_id'))
         WHERE hs_receipts.event_stream < $6
       RETURNING stream_id`,
        [roomId, type, userId, threadId ?? '', eventId, event.stream_ordering, Date.now()],
      );
    });
    if (rows[0]) {
      const notify = type === 'm.read' ? { roomIds: [roomId], actors: [userId] } : { userIds: [userId] };
      await this.pubsub.publish(STREAM_TOPIC, { stream: 'receipts', position: rows[0].stream_id, ...notify });
    }
  }

  /**
   * The m.receipt ephemeral event per room for receipts changed in (from, to] (all when from = 0).
   * Private receipts are included only for their owner.
   */
  async changedRooms(viewer: string, roomIds: string[], from: number, to: number): Promise<Map<string, Record<string, unknown>>> {
    const { rows } = await this.db.query<{
      room_id: string;
      receipt_type: string;
      user_id: string;
      thread_id: string;
      event_id: string;
      ts: number;
    }>(
      `SELECT room_id, receipt_type, user_id, thread_id, event_id, ts FROM hs_receipts
       WHERE room_id = ANY($1) AND stream_id > $2 AND stream_id <= $3 AND (receipt_type = 'm.read' OR user_id = $4)`,
      [roomIds, from, to, viewer],
    );
    const out = new Map<string, Record<string, any>>();
    for (const r of rows) {
      const content = out.get(r.room_id) ?? {};
      content[r.event_id] ??= {};
      content[r.event_id][r.receipt_type] ??= {};
      content[r.event_id][r.receipt_type][r.user_id] = { ts: r.ts, ...(r.thread_id ? { thread_id: r.thread_id } : {}) };
      out.set(r.room_id, content);
    }
    return out;
  }

  /** The user's read positions per room, threaded receipts included (for unread counts). */
  readPositions(userId: string, roomIds: string[]): Promise<Map<string, ReadPositions>> {
    return loadReadPositions(this.db, userId, roomIds);
  }

  async currentPosition(): Promise<number> {
    const { rows } = await this.db.query<{ p: number | null }>('SELECT max(stream_id) AS p FROM hs_receipts');
    return rows[0]?.p ?? 0;
  }
}
