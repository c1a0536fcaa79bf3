import { createHash, randomBytes } from 'node:crypto';
import type { Queryable } from '../../storage/db.js';
import type { PubSub } from '../../runtime/ports.js';

export interface TokenOwner {
  userId: string;
  deviceId: string;
}

/** Tokens are random 256-bit values; only their SHA-256 is stored, so lookups need no constant-time compare. */
export function newAccessToken(localpart: string): string {
  return `cwt_${Buffer.from(localpart).toString('base64url')}_${randomBytes(32).toString('base64url')}`;
}

export const tokenHash = (token: string): Buffer => createHash('sha256').update(token).digest();

const REVOKED_TOPIC = 'hs.access_tokens.revoked';
const CACHE_LIMIT = 100_000;

/**
 * Access-token lookups on the hot path: a bounded in-process cache in front of hs_access_tokens.
 * Revocations are broadcast on the pub/sub port so every process drops the token at once.
 */
export class AccessTokenStore {
  private cache = new Map<string, TokenOwner>();

  constructor(
    private db: Queryable,
    private pubsub: PubSub,
  ) {}

  async start(): Promise<void> {
    await this.pubsub.subscribe(REVOKED_TOPIC, (msg) => {
      for (const h of (msg as { hashes: string[] }).hashes) this.cache.delete(h);
    });
  }

  async issue(owner: TokenOwner, localpart: string, tx: Queryable = this.db): Promise<string> {
    const token = newAccessToken(localpart);
    await tx.query('INSERT INTO hs_access_tokens (token_hash, user_id, device_id, created_ts) VALUES ($1,$2,$3,$4)', [
      tokenHash(token),
      owner.userId,
      owner.deviceId,
      Date.now(),
    ]);
    return token;
  }

  async lookup(token: string): Promise<TokenOwner | undefined> {
    const hash = tokenHash(token);
    const key = hash.toString('base64');
    const cached = this.cache.get(key);
    if (cached) return cached;
    const { rows } = await this.db.query<{ user_id: string; device_id: string }>(
      'SELECT user_id, device_id FROM hs_access_tokens WHERE token_hash = $1',
      [hash],
    );
    if (!rows[0]) return undefined;
    const owner = { userId: rows[0].user_id, deviceId: rows[0].device_id };
    if (this.cache.size >= CACHE_LIMIT) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(key, owner);
    return owner;
  }

  /** Deletes the tokens of some devices (or all of a user's) and tells every process. */
  async revoke(userId: string, deviceIds: string[] | 'all', tx: Queryable = this.db): Promise<void> {
    const { rows } =
      deviceIds === 'all'
        ? await tx.query<{ token_hash: Buffer }>('DELETE FROM hs_access_tokens WHERE user_id = $1 RETURNING token_hash', [userId])
        : await tx.query<{ token_hash: Buffer }>(
            'DELETE FROM hs_access_tokens WHERE user_id = $1 AND device_id = ANY($2) RETURNING token_hash',
            [userId, deviceIds],
          );
    const hashes = rows.map((r) => r.token_hash.toString('base64'));
    for (const h of hashes) this.cache.delete(h);
    if (hashes.length) await this.pubsub.publish(REVOKED_TOPIC, { hashes });
  }

  async revokeToken(token: string): Promise<void> {
    const hash = tokenHash(token);
    await this.db.query('DELETE FROM hs_access_tokens WHERE token_hash = $1', [hash]);
    this.cache.delete(hash.toString('base64'));
    await this.pubsub.publish(REVOKED_TOPIC, { hashes: [hash.toString('base64')] });
  }
}
