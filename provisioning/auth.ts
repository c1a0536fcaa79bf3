import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { ProvisioningDeps } from './deps.js';
import { ProvisioningError } from './errors.js';

/** mautrix refuses shorter secrets (the whole API is disabled); we only disable secret auth. */
const MIN_SECRET_LENGTH = 16;
const USER_ID = /^@[^:\s]+:[^\s]+$/;

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/**
 * Compares in constant time. Hashing both sides first gives equal-length buffers, so neither the
 * content nor the length of the secret leaks through timing.
 */
export function secretMatches(given: string, secret: string | undefined): boolean {
  if (!secret || secret.length < MIN_SECRET_LENGTH) return false;
  return timingSafeEqual(sha256(given), sha256(secret));
}

/** The authenticated Matrix user of each request (a WeakMap: no global Fastify type augmentation). */
const users = new WeakMap<object, string>();

/** The user a route acts for (its request passed authentication). */
export function userOf(req: object): string {
  const user = users.get(req);
  if (!user) throw new Error('provisioning route ran without authentication');
  return user;
}

function bearer(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization;
  if (!header) return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(header.trim());
  return m?.[1];
}

/**
 * Authenticates a request, as mautrix's AuthMiddleware does:
 * - the shared secret acts for the user named by `?user_id=` (admins, the integration manager);
 * - otherwise the token must be the user's own Matrix access token; a `user_id` that names
 *   somebody else is refused.
 * The token and secret are never logged or echoed.
 */
export function authenticator(deps: ProvisioningDeps) {
  return async (req: FastifyRequest): Promise<void> => {
    const token = bearer(req);
    if (!token) throw new ProvisioningError('M_MISSING_TOKEN', 'Missing auth token', 401);
    const query = req.query as { user_id?: unknown } | undefined;
    const asked = typeof query?.user_id === 'string' && query.user_id !== '' ? query.user_id : undefined;
    if (asked !== undefined && !USER_ID.test(asked)) throw new ProvisioningError('M_INVALID_PARAM', 'user_id is not a Matrix user id', 400);

    let user: string;
    if (secretMatches(token, deps.sharedSecret)) {
      if (!asked) throw new ProvisioningError('M_MISSING_PARAM', 'user_id is required with the shared secret', 400);
      user = asked;
    } else {
      const owner = deps.verifyAccessToken ? await deps.verifyAccessToken(token) : undefined;
      if (!owner) throw new ProvisioningError('M_UNKNOWN_TOKEN', 'Invalid auth token', 401);
      if (asked && asked !== owner) throw new ProvisioningError('M_FORBIDDEN', 'user_id does not match the access token', 403);
      user = owner;
    }
    if (deps.isAllowed && !(await deps.isAllowed(user))) {
      throw new ProvisioningError('M_FORBIDDEN', 'User does not have login permissions', 403);
    }
    users.set(req, user);
  };
}
