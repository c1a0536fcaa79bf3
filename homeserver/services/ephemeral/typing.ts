import type { Db, Queryable } from '../../storage/db.js';
import { lockStream } from '../../storage/stream-lock.js';
import type { PubSub } from '../../runtime/ports.js';
import { MatrixError } from '../../matrix/errors.js';
import type { RoomStateCache } from '../rooms/room-state-cache.js';
import { STREAM_TOPIC } from '../sync/stream-source.js';

const MAX_TIMEOUT_MS = 120_000;

/**
 * Typing notices (spec: `PUT /rooms/{roomId}/typing/{userId}`). Each change takes a stream
 * position in hs_typing; a timer bumps the stream when a notice expires, so syncs learn that the
 * user stopped typing even if no further request comes.
 */
export class Typing {
  private expiryTimers = new Map<string, NodeJS.Timeout>();

  constructor(
    private db: Db,
    private pubsub: PubSub,
    private rooms: RoomStateCache,
  ) {}

  async set(userId: string, roomId: string, typing: boolean, timeoutMs = 30_000): Promise<void> {
    const room = await this.rooms.get(roomId);
    if (!room) throw MatrixError.notFound('Unknown room');
    if (room.membershipOf(userId) !== 'join') throw MatrixError.forbidden('You are not joined to this room');
    const expires = typing ? Date.now() + Math.min(Math.max(timeoutMs, 0), MAX_TIMEOUT_MS) : 0;
    await this.write(roomId, userId, expires);
    this.scheduleExpiry(roomId, userId, expires);
  }

  /** Arms (or, for expires = 0, clears) the timer that announces the notice's end. */
  private scheduleExpiry(roomId: string, userId: string, expires: number): void {
    const key = `${roomId}\u0000${userId}`;
    clearTimeout(this.expiryTimers.get(key));
    this.expiryTimers.delete(key);
    if (expires > 0) {
      const timer = setTimeout(
        () => {
          this.expiryTimers.delete(key);
          // Only if nothing newer was written (another process may have extended it).
          void this.expire(roomId, userId, expires).catch(() => {});
        },
        Math.max(0, expires - Date.now()),
      );
      timer.unref();
      this.expiryTimers.set(key, timer);
    }
  }

  /**
   * Re-arms the timers of notices still running in Postgres: the process that armed them may have
   * stopped (a restart), and without a timer nobody (sync, appservices) would hear they ended.
   */
  async resumeExpiries(): Promise<void> {
    const { rows } = await this.db.query<{ room_id: string; user_id: string; expires_ts: number }>(
      'SELECT room_id, user_id, expires_ts FROM hs_typing WHERE expires_ts > 0',
    );
    for (const r of rows) this.scheduleExpiry(r.room_id, r.user_id, Number(r.expires_ts));
  }

  /** `{ user_ids }` for rooms whose typing set changed in (from, to]; every room when from = 0. */
  async changedRooms(roomIds: string[], from: number, to: number): Promise<Map<string, string[]>> {
    const { rows } = await this.db.query<{ room_id: string; user_id: string; expires_ts: number }>(
      `SELECT room_id, user_id, expires_ts FROM hs_typing
       WHERE room_id = ANY($1) AND room_id IN (SELECT room_id FROM hs_typing WHERE room_id = ANY($1) AND stream_id > $2 AND stream_id <= $3)`,
      [roomIds, from, to],
    );
    const now = Date.now();
    const out = new Map<string, string[]>();
    for (const r of rows) {
      const list = out.get(r.room_id) ?? [];
      if (r.expires_ts > now) list.push(r.user_id);
      out.set(r.room_id, list);
    }
    return out;
  }

  async currentPosition(): Promise<number> {
    const { rows } = await this.db.query<{ p: number | null }>('SELECT max(stream_id) AS p FROM hs_typing');
    return rows[0]?.p ?? 0;
  }

  private inStreamOrder<R>(fn: (tx: Queryable) => Promise<R>): Promise<R> {
    return this.db.withTransaction(async (tx) => {
      await lockStream(tx, 'typing');
      return fn(tx);
    });
  }

  stop(): void {
    for (const t of this.expiryTimers.values()) clearTimeout(t);
    this.expiryTimers.clear();
  }

  private async write(roomId: string, userId: string, expires: number): Promise<void> {
    const { rows } = await this.inStreamOrder((tx) =>
      tx.query<{ stream_id: number }>(
        `INSERT INTO hs_typing (room_id, user_id, expires_ts) VALUES ($1, $2, $3)
       ON CONFLICT (room_id, user_id) DO UPDATE SET expires_ts = $3, stream_id = nextval(pg_get_serial_sequence('hs_typing', 'stream_id'))
       RETURNING stream_id`,
        [roomId, userId, expires],
      ),
    );
    await this.pubsub.publish(STREAM_TOPIC, { stream: 'typing', position: rows[0]!.stream_id, roomIds: [roomId] });
  }

  private async expire(roomId: string, userId: string, expected: number): Promise<void> {
    const { rows } = await this.inStreamOrder((tx) =>
      tx.query<{ stream_id: number }>(
        `UPDATE hs_typing SET expires_ts = 0, stream_id = nextval(pg_get_serial_sequence('hs_typing', 'stream_id'))
       WHERE room_id = $1 AND user_id = $2 AND expires_ts = $3 RETURNING stream_id`,
        [roomId, userId, expected],
      ),
    );
    if (rows[0]) await this.pubsub.publish(STREAM_TOPIC, { stream: 'typing', position: rows[0].stream_id, roomIds: [roomId] });
  }
}
