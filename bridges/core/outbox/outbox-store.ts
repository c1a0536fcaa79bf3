import type { Queryable } from '../../../homeserver/storage/db.js';
import type { LoginId, PortalKey, RemoteChatId } from '../network/ids.js';
import type { MatrixEvent } from '../matrix/transaction-receiver.js';

export interface OutboxRow {
  eventId: string;
  seq: number;
  roomId: string;
  key: PortalKey;
  loginId: LoginId;
  event: MatrixEvent;
  attempts: number;
}

interface Row {
  event_id: string;
  seq: number;
  room_id: string;
  chat_id: string;
  receiver: string;
  login_id: string;
  event: MatrixEvent;
  attempts: number;
}

const fromRow = (r: Row): OutboxRow => ({
  eventId: r.event_id,
  seq: r.seq,
  roomId: r.room_id,
  key: { chatId: r.chat_id as RemoteChatId, ...(r.receiver ? { receiver: r.receiver as LoginId } : {}) },
  loginId: r.login_id as LoginId,
  event: r.event,
  attempts: r.attempts,
});

/** The `bridge_outbox` table: Matrix events waiting to reach the network, keyed by event id. */
export class OutboxStore {
  constructor(
    private db: Queryable,
    readonly bridgeId: string,
  ) {}

  /** False when the event is already in the outbox (a redelivered transaction): it is never queued twice. */
  async insert(e: { event: MatrixEvent; key: PortalKey; loginId: LoginId }, q: Queryable = this.db): Promise<boolean> {
    const now = Date.now();
    const { rowCount } = await q.query(
      `INSERT INTO bridge_outbox (bridge_id, event_id, room_id, chat_id, receiver, login_id, event, next_attempt_ts, created_ts)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) ON CONFLICT DO NOTHING`,
      [this.bridgeId, e.event.event_id, e.event.room_id, e.key.chatId, e.key.receiver ?? '', e.loginId, JSON.stringify(e.event), now],
    );
    return (rowCount ?? 0) > 0;
  }

  /**
   * Claims due rows of the given logins for `claimMs` (SKIP LOCKED: workers never block each
   * other, and a claim by a worker that died expires). Oldest first.
   */
  async claim(workerId: string, logins: LoginId[], limit: number, claimMs: number): Promise<OutboxRow[]> {
    if (!logins.length) return [];
    const now = Date.now();
    const { rows } = await this.db.query<Row>(
      `UPDATE bridge_outbox o SET claimed_by = $2, claimed_until = $3
       FROM (SELECT event_id FROM bridge_outbox
             WHERE bridge_id = $1 AND status = 'pending' AND next_attempt_ts <= $4 AND claimed_until < $4 AND login_id = ANY($5)
             ORDER BY seq LIMIT $6 FOR UPDATE SKIP LOCKED) due
       WHERE o.bridge_id = $1 AND o.event_id = due.event_id
       RETURNING o.event_id, o.seq, o.room_id, o.chat_id, o.receiver, o.login_id, o.event, o.attempts`,
      [this.bridgeId, workerId, now + claimMs, now, logins, limit],
    );
    return rows.map(fromRow).sort((a, b) => a.seq - b.seq);
  }

  async markSent(eventId: string): Promise<void> {
    await this.db.query(
      `UPDATE bridge_outbox SET status = 'sent', done_ts = $3, claimed_until = 0, attempts = attempts + 1, last_error = NULL
       WHERE bridge_id = $1 AND event_id = $2`,
      [this.bridgeId, eventId, Date.now()],
    );
  }

  async retryLater(eventId: string, atTs: number, error: string): Promise<void> {
    await this.db.query(
      `UPDATE bridge_outbox SET attempts = attempts + 1, next_attempt_ts = $3, claimed_until = 0, last_error = $4
       WHERE bridge_id = $1 AND event_id = $2`,
      [this.bridgeId, eventId, atTs, error],
    );
  }

  async markFailed(eventId: string, error: string): Promise<void> {
    await this.db.query(
      `UPDATE bridge_outbox SET status = 'failed', attempts = attempts + 1, done_ts = $3, claimed_until = 0, last_error = $4
       WHERE bridge_id = $1 AND event_id = $2`,
      [this.bridgeId, eventId, Date.now(), error],
    );
  }

  /** Gives a claimed row back without counting an attempt (the login is not ready here). */
  async release(eventIds: string[]): Promise<void> {
    if (!eventIds.length) return;
    await this.db.query('UPDATE bridge_outbox SET claimed_until = 0 WHERE bridge_id = $1 AND event_id = ANY($2) AND status = $3', [
      this.bridgeId,
      eventIds,
      'pending',
    ]);
  }

  async status(eventId: string): Promise<{ status: string; attempts: number; lastError: string | null } | undefined> {
    const { rows } = await this.db.query<{ status: string; attempts: number; last_error: string | null }>(
      'SELECT status, attempts, last_error FROM bridge_outbox WHERE bridge_id = $1 AND event_id = $2',
      [this.bridgeId, eventId],
    );
    return rows[0] && { status: rows[0].status, attempts: rows[0].attempts, lastError: rows[0].last_error };
  }
}
