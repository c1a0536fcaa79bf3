import type { Queryable } from '../../../homeserver/storage/db.js';

/**
 * Login leases in `bridge_login_leases`: a login runs in exactly one worker, the holder of an
 * unexpired lease. Postgres is the arbiter in every runtime mode (memory or Redis), because the
 * fencing token must be checked by the same database that stores what it protects (sealed keys).
 *
 * Time is Postgres's `now()` only: workers' clocks never decide who holds a lease. The holder
 * keeps its own, earlier, deadline (see SessionPool) measured from when it *sent* a renewal, so it
 * stops using a login before any other worker can see the lease as expired.
 *
 * Rows are never deleted: release only expires them. The token therefore grows by one on every
 * acquisition over the login's whole life, and a token once superseded is never valid again.
 *
 * Every operation is one statement, and the per-interval ones take arrays (`unnest`), so 5,000
 * held logins cost one renewal query per interval, not 5,000.
 */
export interface HeldLease {
  loginId: string;
  token: number;
}

export class LoginLeases {
  constructor(
    private readonly db: Queryable,
    readonly bridgeId: string,
    readonly workerId: string,
    readonly ttlMs: number,
    /** How other workers address this one over the login relay (ProcessRelay); stored with every lease taken. */
    readonly workerToken: string | null = null,
  ) {}

  /**
   * Takes one login if its lease is free or expired; returns the new fencing token, or
   * undefined if another worker holds it. `orOwn` also takes a lease this worker holds
   * (with a new token): for a caller that knows nothing of this process runs the login.
   */
  async acquire(loginId: string, opts: { orOwn?: boolean } = {}): Promise<number | undefined> {
    const got = await this.acquireMany([loginId], opts);
    return got.get(loginId);
  }

  /** Takes every listed login whose lease is free or expired (or, with `orOwn`, ours), in one statement. Returns login id -> token. */
  async acquireMany(loginIds: readonly string[], opts: { orOwn?: boolean } = {}): Promise<Map<string, number>> {
    if (loginIds.length === 0) return new Map();
    const { rows } = await this.db.query<{ login_id: string; token: number }>(
      `INSERT INTO bridge_login_leases AS l (bridge_id, login_id, owner, token, expires_at, worker_token)
       SELECT $1, id, $2, 1, now() + $3 * interval '1 millisecond', $6 FROM unnest($4::text[]) AS id
       ON CONFLICT (bridge_id, login_id) DO UPDATE
         SET owner = EXCLUDED.owner, token = l.token + 1, expires_at = EXCLUDED.expires_at, worker_token = EXCLUDED.worker_token
         WHERE l.expires_at < now() OR ($5 AND l.owner = EXCLUDED.owner)
       RETURNING l.login_id, l.token`,
      [this.bridgeId, this.workerId, this.ttlMs, loginIds, opts.orOwn === true, this.workerToken],
    );
    return new Map(rows.map((r) => [r.login_id, Number(r.token)]));
  }

  /**
   * The takeover scan: acquires up to `limit` logins of the bridge that are not in a terminal
   * state and whose lease is expired (a dead or departed worker) or missing (a login whose
   * worker died before taking it). One statement; concurrent scans of several workers cannot
   * both win a row, because the upsert re-checks expiry under the row lock.
   */
  async takeOver(limit: number, exclude: readonly string[] = []): Promise<Map<string, number>> {
    if (limit <= 0) return new Map();
    const { rows } = await this.db.query<{ login_id: string; token: number }>(
      `INSERT INTO bridge_login_leases AS l (bridge_id, login_id, owner, token, expires_at, worker_token)
       SELECT u.bridge_id, u.login_id, $2, 1, now() + $3 * interval '1 millisecond', $6
         FROM bridge_user_logins u
         LEFT JOIN bridge_login_leases x ON x.bridge_id = u.bridge_id AND x.login_id = u.login_id
        WHERE u.bridge_id = $1 AND u.state NOT IN ('BAD_CREDENTIALS', 'LOGGED_OUT')
          AND (x.login_id IS NULL OR x.expires_at < now())
          AND u.login_id <> ALL($5::text[])
        ORDER BY u.login_id
        LIMIT $4
       ON CONFLICT (bridge_id, login_id) DO UPDATE
         SET owner = EXCLUDED.owner, token = l.token + 1, expires_at = EXCLUDED.expires_at, worker_token = EXCLUDED.worker_token
         WHERE l.expires_at < now()
       RETURNING l.login_id, l.token`,
      [this.bridgeId, this.workerId, this.ttlMs, limit, exclude, this.workerToken],
    );
    return new Map(rows.map((r) => [r.login_id, Number(r.token)]));
  }

  /**
   * Takes a new token for a lease this worker holds (a restart of the login with fresh
   * credentials): writes still in flight under the old token are refused from now on, and the
   * lease never passes through a free state another worker could grab.
   */
  async reacquire(loginId: string, token: number): Promise<number | undefined> {
    const { rows } = await this.db.query<{ token: number }>(
      `UPDATE bridge_login_leases SET token = token + 1, expires_at = now() + $5 * interval '1 millisecond'
        WHERE bridge_id = $1 AND login_id = $2 AND owner = $3 AND token = $4
       RETURNING token`,
      [this.bridgeId, loginId, this.workerId, token, this.ttlMs],
    );
    return rows[0] && Number(rows[0].token);
  }

  /** Extends one lease; false when it is no longer ours (another worker took it). */
  async renew(loginId: string, token: number): Promise<boolean> {
    return (await this.renewAll([{ loginId, token }])).has(loginId);
  }

  /**
   * Extends every listed lease that is still ours (owner and token match) in ONE statement and
   * returns the login ids renewed; the others are lost. A lease that expired but was not taken
   * yet is still ours (nobody else has used the login) and is extended. A login whose row is
   * gone (logged out through another worker) is not renewed, so every worker drops it.
   */
  async renewAll(held: readonly HeldLease[]): Promise<Set<string>> {
    if (held.length === 0) return new Set();
    const ids = new Array<string>(held.length);
    const tokens = new Array<number>(held.length);
    held.forEach((h, i) => ((ids[i] = h.loginId), (tokens[i] = h.token)));
    const { rows } = await this.db.query<{ login_id: string }>(
      `UPDATE bridge_login_leases l SET expires_at = now() + $3 * interval '1 millisecond'
         FROM unnest($4::text[], $5::bigint[]) AS h(login_id, token)
        WHERE l.bridge_id = $1 AND l.owner = $2 AND l.login_id = h.login_id AND l.token = h.token
          AND EXISTS (SELECT 1 FROM bridge_user_logins u WHERE u.bridge_id = l.bridge_id AND u.login_id = l.login_id)
       RETURNING l.login_id`,
      [this.bridgeId, this.workerId, this.ttlMs, ids, tokens],
    );
    return new Set(rows.map((r) => r.login_id));
  }

  /** Gives leases up at once (expires them) so another worker may take them without waiting for the TTL. */
  async releaseAll(held: readonly HeldLease[]): Promise<void> {
    if (held.length === 0) return;
    await this.db.query(
      `UPDATE bridge_login_leases l SET expires_at = '-infinity'
         FROM unnest($3::text[], $4::bigint[]) AS h(login_id, token)
        WHERE l.bridge_id = $1 AND l.owner = $2 AND l.login_id = h.login_id AND l.token = h.token`,
      [this.bridgeId, this.workerId, held.map((h) => h.loginId), held.map((h) => h.token)],
    );
  }

  async release(loginId: string, token: number): Promise<void> {
    await this.releaseAll([{ loginId, token }]);
  }

  /**
   * The login-relay worker token of the worker holding an unexpired lease on the login (this one
   * included), or undefined when nobody does or the holder stored none. Advisory: the holder may
   * lose the lease or die right after, which the caller must tolerate (the relay times out).
   */
  async holderWorkerToken(loginId: string): Promise<string | undefined> {
    const { rows } = await this.db.query<{ worker_token: string | null }>(
      `SELECT worker_token FROM bridge_login_leases WHERE bridge_id = $1 AND login_id = $2 AND expires_at > now()`,
      [this.bridgeId, loginId],
    );
    return rows[0]?.worker_token ?? undefined;
  }

  /** The current holder and token of a login's lease (for checks and tests), expired or not. */
  async current(loginId: string): Promise<{ owner: string; token: number; expired: boolean } | undefined> {
    const { rows } = await this.db.query<{ owner: string; token: number; expired: boolean }>(
      `SELECT owner, token, expires_at < now() AS expired FROM bridge_login_leases WHERE bridge_id = $1 AND login_id = $2`,
      [this.bridgeId, loginId],
    );
    const r = rows[0];
    return r && { owner: r.owner, token: Number(r.token), expired: r.expired };
  }

  /** Logins of the bridge that may run (not BAD_CREDENTIALS / LOGGED_OUT): the basis of each worker's fair share. */
  async countRunnable(): Promise<number> {
    const { rows } = await this.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM bridge_user_logins WHERE bridge_id = $1 AND state NOT IN ('BAD_CREDENTIALS', 'LOGGED_OUT')`,
      [this.bridgeId],
    );
    return rows[0]?.n ?? 0;
  }
}
