import type { FastifyRequest } from 'fastify';
import { MatrixError } from '../matrix/errors.js';
import type { Requester } from '../services/requester.js';
import type { Services } from '../services/services.js';
import type { AppserviceRegistration } from '../services/appservices/registry-port.js';

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
    const as = services.appservices?.byAsToken(token);
    if (as) {
      req.requester = await appserviceRequester(services, as, req.query as Record<string, unknown> | undefined, token);
      return;
    }
    const owner = await services.accounts.tokens.lookup(token);
    if (!owner) throw MatrixError.unknownToken();
    const user = await services.users.get(owner.userId);
    if (!user || user.deactivated) throw MatrixError.unknownToken();
    req.requester = { userId: owner.userId, deviceId: owner.deviceId, isAdmin: user.is_admin, accessToken: token };
  };
}

/**
 * An appservice acting as one of its users (spec: "Identity assertion"). `user_id` defaults to the
 * sender; any other user must be in the appservice's namespaces (M_FORBIDDEN otherwise) and already
 * registered (as Synapse requires). The sender is registered on first use. `device_id` (or MSC3202's
 * `org.matrix.msc3202.device_id`) acts as one of that user's existing devices (spec v1.17 / MSC4190).
 */
async function appserviceRequester(
  services: Services,
  as: AppserviceRegistration,
  query: Record<string, unknown> | undefined,
  token: string,
): Promise<Requester> {
  const registry = services.appservices!;
  const sender = services.accounts.userIdFor(as.senderLocalpart);
  const asked = query?.user_id;
  const userId = typeof asked === 'string' && asked !== '' ? asked : sender;
  if (!registry.ownsUser(as, userId)) throw MatrixError.forbidden('Application service cannot masquerade as this user');
  let user = await services.users.get(userId);
  if (!user && userId === sender) {
    try {
      await services.accounts.register({ localpart: as.senderLocalpart, appserviceId: as.id });
    } catch (err) {
      if (!(err instanceof MatrixError && err.errcode === 'M_USER_IN_USE')) throw err;
    }
    user = await services.users.get(userId);
  }
  if (!user) throw MatrixError.forbidden('Application service has not registered this user');
  if (user.deactivated) throw MatrixError.forbidden('This user has been deactivated');
  const askedDevice = query?.device_id ?? query?.['org.matrix.msc3202.device_id'];
  let deviceId: string | undefined;
  if (typeof askedDevice === 'string' && askedDevice !== '') {
    // Synapse: 400 M_FORBIDDEN (its AuthError) for a device the user does not have.
    if (!(await services.accounts.getDevice(userId, askedDevice)))
      throw new MatrixError('M_FORBIDDEN', 'Application service trying to use a device that does not exist', 400);
    deviceId = askedDevice;
  }
  return { userId, deviceId, isAdmin: user.is_admin, appserviceId: as.id, accessToken: token };
}

/** The appservice whose as_token the request carries (registration and login with m.login.application_service). */
export function appserviceOf(services: Services, req: FastifyRequest): AppserviceRegistration {
  const token = accessTokenOf(req);
  if (!token) throw new MatrixError('M_MISSING_TOKEN', 'Missing application service token');
  const as = services.appservices?.byAsToken(token);
  if (!as) throw MatrixError.unknownToken();
  return as;
}

/** Whether the send/login/register limiter applies: not to appservices registered with rate_limited: false. */
export function isRateLimited(services: Services, requester: Requester | undefined): boolean {
  if (!requester?.appserviceId) return true;
  return services.appservices?.byId(requester.appserviceId)?.rateLimited ?? true;
}
