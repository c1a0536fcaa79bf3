import pg from 'pg';
import type { Db } from './db.js';
import type { Logger } from '../runtime/logger.js';

/**
 * Leases for work that one process of a cluster does at a time and that runs for as long as that
 * process lives (push delivery, each appservice's delivery loop): Postgres session advisory locks
 * held on one dedicated connection. The runtime KeyedLock only serialises callers that run a
 * function to completion; a session lock is released by Postgres itself when the holding process
 * dies (its connection drops), so another process takes over with no expiry to tune.
 *
 * One connection holds any number of leases (an appservice delivery process holds one per
 * appservice): it is opened on the first attempt and kept, also while waiting to take a lease over,
 * so standing by costs no reconnect per retry. If it fails, every lease taken on it is lost (their
 * `onLost` listeners run) and the next attempt opens a new one. Keys are scoped by schema, so test
 * schemas sharing one server do not contend.
 */
export class SessionLockConnection {
  private client?: pg.Client;
  private connecting?: Promise<pg.Client | undefined>;
  /** Statements on the connection, one at a time (pg deprecates concurrent client.query). */
  private chain: Promise<unknown> = Promise.resolve();
  private readonly held = new Map<string, SessionLease>();
  private closed = false;

  constructor(
    private readonly db: Db,
    private readonly log?: Logger,
  ) {}

  /** A lease on `key`, not yet taken (see SessionLease.tryAcquire). */
  lease(key: string): SessionLease {
    return new SessionLease(this, key);
  }

  /** Gives every lease up (ending the connection releases its locks); later attempts fail. */
  async close(): Promise<void> {
    this.closed = true;
    await this.connecting?.catch(() => undefined);
    await this.chain;
    const c = this.client;
    this.client = undefined;
    for (const lease of this.held.values()) lease.dropped();
    this.held.clear();
    await c?.end().catch(() => undefined);
  }

  /** @internal SessionLease.tryAcquire. */
  async acquire(lease: SessionLease): Promise<boolean> {
    // Session locks are re-entrant within a session: a second lease object on a key this
    // connection already holds must not be granted it too.
    const holder = this.held.get(lease.key);
    if (holder) return holder === lease;
    try {
      const c = await this.connection();
      if (!c) return false;
      const { rows } = await this.run(() =>
        c.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock(hashtext(current_schema() || ':' || $1)) AS ok`, [lease.key]),
      );
      if (!rows[0]?.ok || this.client !== c) return false;
      this.held.set(lease.key, lease);
      return true;
    } catch (err) {
      this.log?.warn({ err, lease: lease.key }, 'lease attempt failed');
      return false;
    }
  }

  /** @internal SessionLease.release. */
  async release(lease: SessionLease): Promise<void> {
    if (this.held.get(lease.key) !== lease) return;
    this.held.delete(lease.key);
    const c = this.client;
    if (!c) return;
    // If this fails the connection is failing too, and Postgres drops the lock with it.
    await this.run(() => c.query(`SELECT pg_advisory_unlock(hashtext(current_schema() || ':' || $1))`, [lease.key])).catch(() => undefined);
  }

  private connection(): Promise<pg.Client | undefined> {
    if (this.client) return Promise.resolve(this.client);
    if (this.closed) return Promise.resolve(undefined);
    this.connecting ??= (async () => {
      const c = new pg.Client(this.db.connection);
      c.on('error', (err) => this.lost(c, err));
      c.on('end', () => this.lost(c));
      try {
        await c.connect();
      } catch (err) {
        await c.end().catch(() => undefined);
        throw err;
      }
      if (this.closed) {
        await c.end().catch(() => undefined);
        return undefined;
      }
      this.client = c;
      return c;
    })().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  /** The connection failed (or ended without close()): every lease on it is gone. */
  private lost(c: pg.Client, err?: unknown): void {
    if (this.client !== c) return;
    this.log?.warn({ err, leases: [...this.held.keys()] }, 'lease connection lost');
    this.client = undefined;
    const leases = [...this.held.values()];
    this.held.clear();
    for (const lease of leases) lease.dropped(true);
    void c.end().catch(() => undefined);
  }

  private run<R>(fn: () => Promise<R>): Promise<R> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => undefined);
    return next;
  }
}

/** One key's lease on a SessionLockConnection. */
export class SessionLease {
  private taken = false;
  private lostListener?: () => void;

  constructor(
    private readonly connection: SessionLockConnection,
    readonly key: string,
  ) {}

  /** Called each time the lease is lost after being taken (its connection failed). */
  onLost(fn: () => void): void {
    this.lostListener = fn;
  }

  get held(): boolean {
    return this.taken;
  }

  /** Takes the lease if nobody holds it; false when another process does (or Postgres is unreachable, logged). */
  async tryAcquire(): Promise<boolean> {
    if (this.taken) return true;
    this.taken = await this.connection.acquire(this);
    return this.taken;
  }

  /** Gives the lease up, so another process may take it. */
  async release(): Promise<void> {
    if (!this.taken) return;
    this.taken = false;
    await this.connection.release(this);
  }

  /** @internal The connection gave the lease up; `lost` when it failed rather than being closed. */
  dropped(lost = false): void {
    if (!this.taken) return;
    this.taken = false;
    if (lost) this.lostListener?.();
  }
}
