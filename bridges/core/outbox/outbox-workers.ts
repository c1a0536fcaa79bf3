import type { Queryable } from '../../../homeserver/storage/db.js';
import type { LoginId } from '../network/ids.js';

/**
 * Who can take outbox jobs: the `bridge_outbox_workers` registry of workers that have a queue
 * (heartbeats, so queues of workers that died can be found and deleted), and the login leases
 * (`bridge_login_leases`), which say which worker a login's sends must go to.
 */
export class OutboxWorkers {
  constructor(
    private readonly db: Queryable,
    readonly bridgeId: string,
  ) {}

  /** Records that the worker is alive. True when its row had to be created (first beat, or declared dead meanwhile). */
  async beat(workerId: string, now = Date.now()): Promise<boolean> {
    const { rows } = await this.db.query<{ created: boolean }>(
      `INSERT INTO bridge_outbox_workers (bridge_id, worker_id, seen_ts) VALUES ($1, $2, $3)
       ON CONFLICT (bridge_id, worker_id) DO UPDATE SET seen_ts = EXCLUDED.seen_ts
       RETURNING (xmax = 0) AS created`,
      [this.bridgeId, workerId, now],
    );
    return rows[0]?.created === true;
  }

  /** Workers not heard of since `beforeTs`. */
  async silentSince(beforeTs: number): Promise<string[]> {
    const { rows } = await this.db.query<{ worker_id: string }>(
      'SELECT worker_id FROM bridge_outbox_workers WHERE bridge_id = $1 AND seen_ts < $2 ORDER BY seen_ts LIMIT 100',
      [this.bridgeId, beforeTs],
    );
    return rows.map((r) => r.worker_id);
  }

  /** Forgets a worker whose queue was deleted, unless it beat again meanwhile. */
  async forget(workerId: string, beforeTs: number): Promise<void> {
    await this.db.query('DELETE FROM bridge_outbox_workers WHERE bridge_id = $1 AND worker_id = $2 AND seen_ts < $3', [
      this.bridgeId,
      workerId,
      beforeTs,
    ]);
  }

  /** The worker holding an unexpired lease on the login (Postgres time, like the leases themselves). */
  async leaseOwner(loginId: LoginId): Promise<string | undefined> {
    const { rows } = await this.db.query<{ owner: string }>(
      'SELECT owner FROM bridge_login_leases WHERE bridge_id = $1 AND login_id = $2 AND expires_at > now()',
      [this.bridgeId, loginId],
    );
    return rows[0]?.owner;
  }
}
