import type { Db, Queryable } from '../../../homeserver/storage/db.js';
import type { LoginKeyStore } from '../network/login-context.js';
import type { ByteLru } from './byte-lru.js';
import { CryptoKeyOpenError, LeaseLostError } from './errors.js';
import { open, seal, SealedBoxError } from './sealed-box.js';

/**
 * A fencing token source: the lease token the writes are made under, or a function giving the
 * current one (undefined = the lease is not held, and writes are refused).
 */
export type LeaseFence = { token: number } | (() => { token: number } | undefined);

/** What a login's key store shares with its CryptoStore. */
export interface StoreShared {
  db: Db;
  bridgeId: string;
  cache: ByteLru<Uint8Array | null>;
  /** Bumped by deleteLogin, so reads that started before it do not refill the cache. */
  purges: number;
}

type Entry = { namespace: string; keyId: string; value: Uint8Array | null };

const UPSERT = `INSERT INTO bridge_crypto_keys (bridge_id, login_id, namespace, key_id, sealed) VALUES ($1, $2, $3, $4, $5)
  ON CONFLICT (bridge_id, login_id, namespace, key_id) DO UPDATE SET sealed = EXCLUDED.sealed`;
// FOR SHARE holds the lease row until COMMIT: a takeover (which updates the row) waits for this
// write, and a write that starts after a takeover sees the new token and inserts nothing.
const FENCED_UPSERT = `WITH lease AS (
    SELECT 1 FROM bridge_login_leases WHERE bridge_id = $1 AND login_id = $2 AND token = $6 FOR SHARE)
  INSERT INTO bridge_crypto_keys (bridge_id, login_id, namespace, key_id, sealed) SELECT $1, $2, $3, $4, $5 FROM lease
  ON CONFLICT (bridge_id, login_id, namespace, key_id) DO UPDATE SET sealed = EXCLUDED.sealed`;
const LOCK_LEASE = 'SELECT 1 FROM bridge_login_leases WHERE bridge_id = $1 AND login_id = $2 AND token = $3 FOR SHARE';
const UPSERT_MANY = `INSERT INTO bridge_crypto_keys (bridge_id, login_id, namespace, key_id, sealed)
  SELECT $1, $2, n, k, s FROM unnest($3::text[], $4::text[], $5::bytea[]) AS t(n, k, s)
  ON CONFLICT (bridge_id, login_id, namespace, key_id) DO UPDATE SET sealed = EXCLUDED.sealed`;
const DELETE_MANY = `DELETE FROM bridge_crypto_keys WHERE bridge_id = $1 AND login_id = $2
  AND (namespace, key_id) IN (SELECT * FROM unnest($3::text[], $4::text[]))`;

/**
 * One login's view of the crypto store (the LoginKeyStore a NetworkClient gets as ctx.keys).
 *
 * Writes of one login run one at a time, in call order, and each resolves after COMMIT. The
 * cache (shared LRU of decrypted values, including "absent" answers) stays coherent because only
 * the lease holder's store writes a login's keys, and:
 *   - a write drops its keys from the cache when it starts and caches the new values after COMMIT;
 *   - a read caches what it read only if no write of this login started or ended meanwhile
 *     (`epoch`), so a read racing a write never caches the older value.
 * One LoginKeyStore per login at a time: that is the session pool's lease holder.
 */
export class LoginCryptoStore implements LoginKeyStore {
  private chain: Promise<unknown> = Promise.resolve();
  private epoch = 0;

  constructor(
    private readonly shared: StoreShared,
    readonly loginId: string,
    private readonly key: Uint8Array,
    private readonly fence?: LeaseFence,
  ) {}

  /** Bytes of this login's entries in the shared cache (for the MemoryMeter). */
  cachedBytes(): number {
    return this.shared.cache.ownerBytes(this.loginId);
  }

  async get(namespace: string, keyId: string): Promise<Uint8Array | undefined> {
    const hit = this.shared.cache.get(this.cacheKey(namespace, keyId));
    if (hit) return copy(hit.value);
    const seen = this.snapshot();
    const { rows } = await this.shared.db.query<{ sealed: Buffer }>(
      'SELECT sealed FROM bridge_crypto_keys WHERE bridge_id = $1 AND login_id = $2 AND namespace = $3 AND key_id = $4',
      [this.shared.bridgeId, this.loginId, namespace, keyId],
    );
    const value = rows[0] ? this.open(namespace, keyId, rows[0].sealed) : null;
    if (this.unchangedSince(seen)) this.shared.cache.set(this.cacheKey(namespace, keyId), this.loginId, value);
    return copy(value);
  }

  async getMany(namespace: string, keyIds: string[]): Promise<Map<string, Uint8Array>> {
    const out = new Map<string, Uint8Array>();
    const misses: string[] = [];
    for (const keyId of new Set(keyIds)) {
      const hit = this.shared.cache.get(this.cacheKey(namespace, keyId));
      if (!hit) misses.push(keyId);
      else if (hit.value) out.set(keyId, Uint8Array.from(hit.value));
    }
    if (misses.length === 0) return out;
    const seen = this.snapshot();
    const { rows } = await this.shared.db.query<{ key_id: string; sealed: Buffer }>(
      'SELECT key_id, sealed FROM bridge_crypto_keys WHERE bridge_id = $1 AND login_id = $2 AND namespace = $3 AND key_id = ANY($4::text[])',
      [this.shared.bridgeId, this.loginId, namespace, misses],
    );
    const found = new Map(rows.map((r) => [r.key_id, this.open(namespace, r.key_id, r.sealed)]));
    const fill = this.unchangedSince(seen);
    for (const keyId of misses) {
      const value = found.get(keyId) ?? null;
      if (fill) this.shared.cache.set(this.cacheKey(namespace, keyId), this.loginId, value);
      if (value) out.set(keyId, Uint8Array.from(value));
    }
    return out;
  }

  async list(namespace: string): Promise<string[]> {
    const { rows } = await this.shared.db.query<{ key_id: string }>(
      'SELECT key_id FROM bridge_crypto_keys WHERE bridge_id = $1 AND login_id = $2 AND namespace = $3 ORDER BY key_id',
      [this.shared.bridgeId, this.loginId, namespace],
    );
    return rows.map((r) => r.key_id);
  }

  set(namespace: string, keyId: string, value: Uint8Array): Promise<void> {
    return this.write([{ namespace, keyId, value }]);
  }

  setMany(entries: Entry[]): Promise<void> {
    return this.write(entries);
  }

  delete(namespace: string, keyId: string): Promise<void> {
    return this.write([{ namespace, keyId, value: null }]);
  }

  // ---- internals ---------------------------------------------------------------------------

  private write(input: Entry[]): Promise<void> {
    // The last write of a key in one batch wins (and Postgres refuses to upsert a row twice).
    const byKey = new Map<string, Entry>();
    for (const e of input) {
      if (typeof e.namespace !== 'string' || typeof e.keyId !== 'string')
        return Promise.reject(new TypeError('namespace and keyId must be strings'));
      byKey.set(this.cacheKey(e.namespace, e.keyId), {
        namespace: e.namespace,
        keyId: e.keyId,
        value: e.value && Uint8Array.from(e.value),
      });
    }
    if (byKey.size === 0) return Promise.resolve();
    const run = this.chain.then(() => this.applyWrite(byKey));
    this.chain = run.catch(() => {});
    return run;
  }

  private async applyWrite(byKey: Map<string, Entry>): Promise<void> {
    const token = this.fenceToken();
    this.epoch++;
    for (const k of byKey.keys()) this.shared.cache.delete(k);
    try {
      const entries = [...byKey.values()];
      const upserts = entries.filter((e) => e.value !== null);
      const deletes = entries.filter((e) => e.value === null);
      if (entries.length === 1 && upserts.length === 1) await this.upsertOne(upserts[0]!, token);
      else await this.shared.db.withTransaction((tx) => this.writeMany(tx, upserts, deletes, token));
    } catch (err) {
      // The outcome may be unknown (a connection lost around COMMIT): forget whatever a
      // concurrent read cached meanwhile, so the next read asks Postgres.
      for (const k of byKey.keys()) this.shared.cache.delete(k);
      throw err;
    } finally {
      this.epoch++;
    }
    // Cached only after COMMIT: a reader never sees a value that might still roll back.
    for (const [k, e] of byKey) this.shared.cache.set(k, this.loginId, e.value);
  }

  private async upsertOne(e: Entry, token: number | undefined): Promise<void> {
    const sealed = Buffer.from(seal(this.key, this.row(e), e.value!));
    const params = [this.shared.bridgeId, this.loginId, e.namespace, e.keyId, sealed];
    if (token === undefined) {
      await this.shared.db.query(UPSERT, params);
      return;
    }
    const { rowCount } = await this.shared.db.query(FENCED_UPSERT, [...params, token]);
    if (!rowCount) throw new LeaseLostError(this.shared.bridgeId, this.loginId);
  }

  private async writeMany(tx: Queryable, upserts: Entry[], deletes: Entry[], token: number | undefined): Promise<void> {
    const { bridgeId } = this.shared;
    if (token !== undefined) {
      const { rowCount } = await tx.query(LOCK_LEASE, [bridgeId, this.loginId, token]);
      if (!rowCount) throw new LeaseLostError(bridgeId, this.loginId);
    }
    if (upserts.length > 0) {
      const sealed = upserts.map((e) => Buffer.from(seal(this.key, this.row(e), e.value!)));
      await tx.query(UPSERT_MANY, [bridgeId, this.loginId, upserts.map((e) => e.namespace), upserts.map((e) => e.keyId), sealed]);
    }
    if (deletes.length > 0) {
      await tx.query(DELETE_MANY, [bridgeId, this.loginId, deletes.map((e) => e.namespace), deletes.map((e) => e.keyId)]);
    }
  }

  /** Undefined when unfenced; throws when a fence is set but the lease is not held. */
  private fenceToken(): number | undefined {
    if (!this.fence) return undefined;
    const current = typeof this.fence === 'function' ? this.fence() : this.fence;
    if (!current) throw new LeaseLostError(this.shared.bridgeId, this.loginId);
    return current.token;
  }

  private open(namespace: string, keyId: string, sealed: Uint8Array): Uint8Array {
    try {
      return open(this.key, this.row({ namespace, keyId }), sealed);
    } catch (err) {
      if (err instanceof SealedBoxError) throw new CryptoKeyOpenError(err.reason, this.loginId, namespace, keyId, err.message);
      throw err;
    }
  }

  private row(e: { namespace: string; keyId: string }) {
    return { bridgeId: this.shared.bridgeId, loginId: this.loginId, namespace: e.namespace, keyId: e.keyId };
  }

  private cacheKey(namespace: string, keyId: string): string {
    return `${this.loginId}\u0000${namespace}\u0000${keyId}`;
  }

  private snapshot() {
    return { epoch: this.epoch, purges: this.shared.purges };
  }

  private unchangedSince(s: { epoch: number; purges: number }): boolean {
    return s.epoch === this.epoch && s.purges === this.shared.purges;
  }
}

function copy(v: Uint8Array | null): Uint8Array | undefined {
  // Callers get their own copy: a client mutating a returned key must not corrupt the cache.
  return v ? Uint8Array.from(v) : undefined;
}
