import type { FastifyRequest } from 'fastify';
import { MatrixError } from '../matrix/errors.js';
import type { Requester } from '../services/requester.js';
import type { Services } from '../services/services.js';

declare module 'fastify' {
  interface FastifyRequest {
    requester: Requester;
  }
}

/** The access token of a request: `Authorization: Bearer` or the deprecated `access_token` query parameter. */
export function accessTokenOf(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization;
  if (header) {
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    if (!m) throw new MatrixError('M_MISSING_TOKEN', 'Invalid Authorization header');
    return m[1];
  }
  const q = (req.query as Record<string, unknown> | undefined)?.access_token;
  return typeof q === 'string' && q ? q : undefined;
}

/** preHandler: resolves request.requester or answers M_MISSING_TOKEN / M_UNKNOWN_TOKEN. */
export function requireAuth(services: Services) {
  return async (req: FastifyRequest): Promise<void> => {
    const token = accessTokenOf(req);
    if (!token) throw new MatrixError('M_MISSING_TOKEN', 'Missing access token');
    const owner = await services.accounts.tokens.lookup(token);
    if (!owner) throw MatrixError.unknownToken();
    const user = await services.users.get(owner.userId);
    if (!user || user.deactivated) throw MatrixError.unknownToken();
    req.requester = { userId: owner.userId, deviceId: owner.deviceId, isAdmin: user.is_admin, accessToken: token };
  };
}
