import { createHmac } from 'node:crypto';
import type { Config } from '../../config-schema.js';

export interface TurnCredentials {
  username: string;
  password: string;
  uris: string[];
  /** Seconds. */
  ttl: number;
}

/**
 * The answer of `GET /voip/turnServer`, as Synapse computes it. With a shared secret: the TURN
 * REST API coturn implements (`use-auth-secret`), username `<expiry unix seconds>:<user id>` and
 * password base64(HMAC-SHA1(secret, username)), so the TURN server checks it without asking us.
 * With a static username/password: those. Without URIs (or credentials): `{}`, which Synapse
 * returns too and clients read as "no TURN server" (the spec's schema would want the fields).
 */
export function turnCredentials(turn: Config['turn'], userId: string, nowMs = Date.now()): TurnCredentials | Record<string, never> {
  const ttl = Math.floor(turn.user_lifetime_ms / 1000);
  if (!turn.uris.length) return {};
  if (turn.shared_secret) {
    const username = `${Math.floor((nowMs + turn.user_lifetime_ms) / 1000)}:${userId}`;
    const password = createHmac('sha1', turn.shared_secret).update(username).digest('base64');
    return { username, password, uris: turn.uris, ttl };
  }
  if (turn.username && turn.password) return { username: turn.username, password: turn.password, uris: turn.uris, ttl };
  return {};
}
