import pg from 'pg';
import type { Db } from '../../storage/db.js';
import type { Logger } from '../../runtime/logger.js';

/**
 * A Postgres session advisory lock held on a connection of its own, as appservice delivery leases
 * each appservice (appservice-api/delivery/delivery.ts): Postgres releases it when the holding
 * process dies (its connection drops), so another process takes over with no expiry to tune. The
 * key is scoped by schema, so test schemas sharing one server do not contend.
 */
export class SessionLease {
  private client?: pg.Client;
  private lostListener?: () => void;

  constructor(
    private readonly db: Db,
    private readonly key: string,
    private readonly log?: Logger,
  ) {}

  /** Called once if the lease is lost after being taken (its connection failed). */
  onLost(fn: () => void): void {
    this.lostListener = fn;
  }

  get held(): boolean {
    return this.client !== undefined;
  }

  /** Takes the lease if nobody holds it; false when another process does. */
  async tryAcquire(): Promise<boolean> {
    if (this.client) return true;
    const c = new pg.Client(this.db.connection);
    c.on('error', (err) => {
      this.log?.warn({ err, lease: this.key }, 'lease connection lost');
      if (this.client !== c) return;
      this.client = undefined;
      this.lostListener?.();
    });
    try {
      await c.connect();
      const { rows } = await c.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock(hashtext(current_schema() || ':' || $1)) AS ok`, [
        this.key,
      ]);
      if (rows[0]?.ok) {
        this.client = c;
        return true;
      }
    } catch (err) {
      this.log?.warn({ err, lease: this.key }, 'lease attempt failed');
    }
    await c.end().catch(() => undefined);
    return false;
  }

  /** Gives the lease up (closing the connection releases the lock). */
  async release(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    await c?.end().catch(() => undefined);
  }
}
