import type { Queryable } from '../../../homeserver/storage/db.js';
import { storedPortalKey } from '../ids.js';
import type { LoginId, PortalKey } from '../network/ids.js';
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

/** A row as a sweep sees it: enough to queue a job for it. */
export interface PendingRow {
  eventId: string;
  seq: number;
  key: PortalKey;
  loginId: LoginId;
  attempts: number;
  /** When the next attempt may run (ms since the epoch). */
  dueTs: number;
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
  seq: Number(r.seq),
  roomId: r.room_id,
  key: storedPortalKey(r.chat_id, r.receiver),
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
   * Claims one row for `claimMs` if it is pending, due and not claimed by a live claim: one
   * statement, so of two jobs for the same row (duplicated across queues, or a sweep racing a
   * route) exactly one gets it. A claim by a worker that died expires.
   */
  async claimOne(eventId: string, workerId: string, claimMs: number): Promise<OutboxRow | undefined> {
    const now = Date.now();
    const { rows } = await this.db.query<Row>(
      `UPDATE bridge_outbox SET claimed_by = $3, claimed_until = $4
       WHERE bridge_id = $1 AND event_id = $2 AND status = 'pending' AND next_attempt_ts <= $5 AND claimed_until < $5
       RETURNING event_id, seq, room_id, chat_id, receiver, login_id, event, attempts`,
      [this.bridgeId, eventId, workerId, now + claimMs, now],
    );
    return rows[0] && fromRow(rows[0]);
  }

  /**
   * Pending rows of the given logins that nobody has claimed, oldest first, after `afterSeq`
   * (paging): what a worker queues for itself when it can send for these logins. Not-yet-due
   * rows are included with their due time, so the job can be delayed until then.
   */
  async unclaimed(logins: LoginId[], afterSeq: number, limit: number): Promise<PendingRow[]> {
    if (!logins.length) return [];
    const { rows } = await this.db.query<Omit<Row, 'room_id' | 'event'> & { next_attempt_ts: string }>(
      `SELECT event_id, seq, chat_id, receiver, login_id, attempts, next_attempt_ts FROM bridge_outbox
       WHERE bridge_id = $1 AND status = 'pending' AND claimed_until < $2 AND login_id = ANY($3) AND seq > $4
       ORDER BY seq LIMIT $5`,
      [this.bridgeId, Date.now(), logins, afterSeq, limit],
    );
    return rows.map((r) => ({
      eventId: r.event_id,
      seq: Number(r.seq),
      key: storedPortalKey(r.chat_id, r.receiver),
      loginId: r.login_id as LoginId,
      attempts: r.attempts,
      dueTs: Number(r.next_attempt_ts),
    }));
  }

  /**
   * Deletes up to `limit` sent or failed rows finished before `beforeTs`; returns how many. A
   * redelivery of a pruned event is then caught by the message mapping (see applyMatrixEvent).
   */
  async prune(beforeTs: number, limit: number): Promise<number> {
    const { rowCount } = await this.db.query(
      `DELETE FROM bridge_outbox o USING (
         SELECT event_id FROM bridge_outbox WHERE bridge_id = $1 AND status <> 'pending' AND done_ts < $2
         ORDER BY done_ts LIMIT $3 FOR UPDATE SKIP LOCKED) old
       WHERE o.bridge_id = $1 AND o.event_id = old.event_id`,
      [this.bridgeId, beforeTs, limit],
    );
    return rowCount ?? 0;
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
