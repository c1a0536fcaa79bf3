import { randomBytes } from 'node:crypto';
import type { Queryable } from '../../storage/db.js';
import { tokenHash } from '../accounts/access-tokens.js';

export interface IssuedOpenIdToken {
  token: string;
  /** Seconds, as the spec's `expires_in`. */
  expiresIn: number;
}

/**
 * OpenID tokens (spec: "OpenID"): a client asks for one and gives it to an integration (a widget,
 * Element Call's focus), which asks `GET /_matrix/federation/v1/openid/userinfo` who it belongs to.
 * They prove identity only: they are not access tokens and open nothing else. Stored as SHA-256,
 * like access tokens, so lookups need no constant-time compare and a leaked table leaks no token.
 */
export class OpenIdTokens {
  constructor(
    private db: Queryable,
    private lifetimeMs: number,
    private now: () => number = Date.now,
  ) {}

  async issue(userId: string): Promise<IssuedOpenIdToken> {
    const token = randomBytes(32).toString('base64url');
    const now = this.now();
    // Pruning here keeps the table at about one lifetime of tokens without a timer of its own.
    await this.db.query(
      `WITH pruned AS (DELETE FROM hs_openid_tokens WHERE valid_until_ts <= $4)
       INSERT INTO hs_openid_tokens (token_hash, user_id, valid_until_ts) VALUES ($1, $2, $3)`,
      [tokenHash(token), userId, now + this.lifetimeMs, now],
    );
    return { token, expiresIn: Math.floor(this.lifetimeMs / 1000) };
  }

  /** The user a token was issued to, or undefined if it is unknown or expired. */
  async userFor(token: string): Promise<string | undefined> {
    const { rows } = await this.db.query<{ user_id: string }>(
      'SELECT user_id FROM hs_openid_tokens WHERE token_hash = $1 AND valid_until_ts > $2',
      [tokenHash(token), this.now()],
    );
    return rows[0]?.user_id;
  }
}
