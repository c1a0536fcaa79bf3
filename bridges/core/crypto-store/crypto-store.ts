import type { Db, Queryable } from '../../../homeserver/storage/db.js';
import type { LoginId } from '../network/ids.js';
import { ByteLru } from './byte-lru.js';
import { CryptoKeyOpenError, MasterKeyMismatchError } from './errors.js';
import { deriveLoginKey } from './key-derivation.js';
import { LoginCryptoStore, type LeaseFence, type StoreShared } from './login-key-store.js';
import type { MasterKey } from './master-key.js';

export interface CryptoStoreOptions {
  db: Db;
  bridgeId: string;
  masterKey: MasterKey;
  /** Bound of the decrypted-key LRU shared by every login of this store. Default 16 MiB; 0 disables it. */
  cacheBytes?: number;
}

/** A reserved row (login id '' is never a real login) that tells a wrong master key at start-up. */
const CHECK_LOGIN = '';
const CHECK_NAMESPACE = 'crypto_store';
const CHECK_KEY = 'master_key_check';
const CHECK_VALUE = new TextEncoder().encode('causeway crypto store master key check v1');

/**
 * The bridge's crypto store over `bridge_crypto_keys`: every credential and key of every login,
 * sealed at rest (sealed-box.ts) under a key derived per login from the master secret
 * (key-derivation.ts), with a byte-bounded LRU of decrypted values in front of Postgres.
 *
 *   const store = new CryptoStore({ db, bridgeId: 'telegram', masterKey: loadMasterKey(cfg) });
 *   await store.checkMasterKey();                         // at start-up: wrong key -> clear error
 *   const keys = store.forLogin(loginId, () => lease.current());   // ctx.keys for the client
 *   ctx.memory.register('crypto-store-cache', () => keys.cachedBytes());
 *   await store.deleteLogin(loginId);                      // on logout
 */
export class CryptoStore {
  private readonly shared: StoreShared;

  constructor(private readonly opts: CryptoStoreOptions) {
    this.shared = {
      db: opts.db,
      bridgeId: opts.bridgeId,
      cache: new ByteLru<Uint8Array | null>(opts.cacheBytes ?? 16 * 1024 * 1024, (v) => v?.byteLength ?? 0),
      purges: 0,
    };
  }

  get bridgeId(): string {
    return this.opts.bridgeId;
  }

  /**
   * The key store of one login. With `fence`, every write also checks (in the same statement or
   * transaction) that `bridge_login_leases` still holds that token for the login, and otherwise
   * rejects with LeaseLostError having written nothing. Derives the login key now (no I/O).
   */
  forLogin(loginId: LoginId | string, fence?: LeaseFence): LoginCryptoStore {
    return new LoginCryptoStore(this.shared, loginId, deriveLoginKey(this.opts.masterKey, this.opts.bridgeId, loginId), fence);
  }

  /** Removes every key of a login (logout) and its cached values. Returns the rows deleted. */
  async deleteLogin(loginId: LoginId | string, q: Queryable = this.opts.db): Promise<number> {
    this.shared.purges++;
    this.shared.cache.deleteOwner(loginId);
    const { rowCount } = await q.query('DELETE FROM bridge_crypto_keys WHERE bridge_id = $1 AND login_id = $2', [
      this.opts.bridgeId,
      loginId,
    ]);
    // Again after the delete: a read that raced it must not leave a value behind.
    this.shared.purges++;
    this.shared.cache.deleteOwner(loginId);
    return rowCount ?? 0;
  }

  /**
   * Fails with MasterKeyMismatchError when the configured master key is not the one this
   * bridge's keys were sealed with (first run: records a check value sealed with it).
   */
  async checkMasterKey(): Promise<void> {
    const check = this.forLogin(CHECK_LOGIN);
    let stored: Uint8Array | undefined;
    try {
      stored = await check.get(CHECK_NAMESPACE, CHECK_KEY);
    } catch (err) {
      if (err instanceof CryptoKeyOpenError) throw new MasterKeyMismatchError(this.opts.bridgeId);
      throw err;
    }
    if (!stored) await check.set(CHECK_NAMESPACE, CHECK_KEY, CHECK_VALUE);
  }

  /** Bytes held by the shared cache (all logins). */
  cachedBytes(): number {
    return this.shared.cache.bytes();
  }

  /** Bytes one login holds in the shared cache. */
  cachedBytesFor(loginId: LoginId | string): number {
    return this.shared.cache.ownerBytes(loginId);
  }

  /** The cache's bound, for metrics. */
  get cacheLimitBytes(): number {
    return this.shared.cache.maxBytes;
  }
}
