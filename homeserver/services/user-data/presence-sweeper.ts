import type { Logger } from '../../runtime/logger.js';
import type { PubSub } from '../../runtime/ports.js';
import type { Db } from '../../storage/db.js';
import { activeWindowMs, type PresenceTimeouts } from './presence-timeouts.js';
import { PRESENCE_STREAM, wakeAfterCommit, withStreamWrite } from './streams.js';

/**
 * Conditions of the three timed transitions ($1 = offline cut-off, $2 = idle cut-off, $3 = active
 * window cut-off), in priority order:
 * - no client seen and no activity since $1 → offline;
 * - online without activity since $2 → unavailable;
 * - online and currently_active without activity since $3 → still online, no longer active.
 */
const DUE = `state <> 'offline' AND (
    GREATEST(last_sync_ts, last_active_ts) < $1
    OR (state = 'online' AND last_active_ts < $2)
    OR (state = 'online' AND currently_active AND last_active_ts < $3))`;

const SWEEP = `
  WITH due AS (
    SELECT user_id,
      CASE WHEN GREATEST(last_sync_ts, last_active_ts) < $1 THEN 'offline'
           WHEN state = 'online' AND last_active_ts < $2 THEN 'unavailable'
           ELSE state END AS next_state
    FROM hs_presence WHERE ${DUE}
    ORDER BY user_id
    FOR UPDATE)
  UPDATE hs_presence p SET state = due.next_state, currently_active = false,
    stream_id = nextval(pg_get_serial_sequence('hs_presence', 'stream_id'))
  FROM due WHERE p.user_id = due.user_id
  RETURNING p.user_id, p.stream_id`;

/**
 * Moves users along online → unavailable → offline when their clocks run out (see Presence for the
 * clocks). Every change is an ordinary presence stream entry, so other users' syncs see it.
 *
 * Cluster mode: every process may run a sweeper. Postgres rows are the only truth, and a sweep is
 * one `UPDATE ... WHERE <due> RETURNING` under the presence stream lock, so two sweepers (or a
 * sweeper and a client write) are serialised and the second finds nothing left to do: each
 * transition is written exactly once. A cheap unlocked EXISTS runs first, so idle sweeps take no lock.
 */
export class PresenceSweeper {
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;
  private stopped = true;

  constructor(private readonly deps: { db: Db; pubsub: PubSub; log: Logger; timeouts: PresenceTimeouts }) {}

  /** How often to sweep: a fifth of the shortest timeout (transitions land at most that late), 20 ms–5 s. */
  get intervalMs(): number {
    const t = this.deps.timeouts;
    return Math.min(5_000, Math.max(20, Math.floor(Math.min(t.offlineAfterMs, activeWindowMs(t)) / 5)));
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule();
  }

  /** Stops the timer and waits for a sweep in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running?.catch(() => {});
  }

  /** One sweep at `now`; returns the users whose presence changed. Safe to call from anywhere, any time. */
  async sweep(now = Date.now()): Promise<string[]> {
    const { db, pubsub, log, timeouts } = this.deps;
    const params = [now - timeouts.offlineAfterMs, now - timeouts.idleAfterMs, now - activeWindowMs(timeouts)];
    const due = await db.query<{ any: boolean }>(`SELECT EXISTS (SELECT 1 FROM hs_presence WHERE ${DUE}) AS any`, params);
    if (!due.rows[0]!.any) return [];
    return withStreamWrite(db, PRESENCE_STREAM, async (tx) => {
      const { rows } = await tx.query<{ user_id: string; stream_id: number }>(SWEEP, params);
      if (!rows.length) return [];
      const changed = rows.map((r) => r.user_id);
      const { rows: audience } = await tx.query<{ user_id: string }>(
        `SELECT DISTINCT b.user_id FROM hs_memberships a JOIN hs_memberships b ON b.room_id = a.room_id AND b.membership = 'join'
         WHERE a.user_id = ANY($1) AND a.membership = 'join'`,
        [changed],
      );
      const position = rows.reduce((max, r) => Math.max(max, Number(r.stream_id)), 0);
      const userIds = [...new Set([...changed, ...audience.map((r) => r.user_id)])];
      wakeAfterCommit(tx, pubsub, log, { stream: PRESENCE_STREAM, position, userIds });
      return changed;
    });
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.sweep()
        .catch((err) => this.deps.log.warn({ err }, 'presence sweep failed'))
        .finally(() => this.schedule());
    }, this.intervalMs);
    this.timer.unref();
  }
}
