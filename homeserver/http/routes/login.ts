import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import { MatrixError } from '../../matrix/errors.js';
import { clientRoute } from './client-route.js';
import { appserviceOf } from '../auth.js';

const LoginBody = Type.Object({
  type: Type.String(),
  identifier: Type.Optional(Type.Object({ type: Type.String(), user: Type.Optional(Type.String()) })),
  user: Type.Optional(Type.String()),
  password: Type.Optional(Type.String()),
  device_id: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
  initial_device_display_name: Type.Optional(Type.String({ maxLength: 1024 })),
  refresh_token: Type.Optional(Type.Boolean()),
});

export async function loginRoutes(app: FastifyInstance): Promise<void> {
  const { services } = app;

  /** `GET /_matrix/client/v3/login` — the login flows this server supports. */
  clientRoute(app, 'GET', '/_matrix/client/v3/login', { auth: false }, async () => ({
    flows: [{ type: 'm.login.password' }, { type: 'm.login.application_service' }],
  }));

  /** `POST /_matrix/client/v3/login` — password login; rate limited per address and per account. */
  clientRoute(app, 'POST', '/_matrix/client/v3/login', { auth: false, schema: { body: LoginBody } }, async (req) => {
    const body = req.body as typeof LoginBody.static;
    if (body.type === 'm.login.application_service') return appserviceLogin(body, req);
    app.limiter.take('login', req.ip);
    if (body.type !== 'm.login.password') throw new MatrixError('M_UNKNOWN', `Unknown login type ${body.type}`, 400);
    if (body.identifier && body.identifier.type !== 'm.id.user')
      throw new MatrixError('M_UNKNOWN', `Unsupported identifier type ${body.identifier.type}`, 400);
    const user = body.identifier?.user ?? body.user;
    if (!user) throw MatrixError.missingParam('identifier.user is required');
    if (body.password === undefined) throw MatrixError.missingParam('password is required');
    const userId = user.startsWith('@') ? user.toLowerCase() : services.accounts.userIdFor(user.toLowerCase());
    app.limiter.take('login', userId);
    const session = await services.accounts.loginWithPassword(userId, body.password, {
      deviceId: body.device_id,
      displayName: body.initial_device_display_name,
      ip: req.ip,
    });
    return loginResponse(session);
  });

  /** The body of a successful login, whichever login type produced the session. */
  function loginResponse(session: { userId: string; accessToken: string; deviceId: string }) {
    return {
      user_id: session.userId,
      access_token: session.accessToken,
      device_id: session.deviceId,
      home_server: services.serverName,
      well_known: { 'm.homeserver': { base_url: services.config.public_baseurl } },
    };
  }

  /** `m.login.application_service`: the appservice logs in one of its users (a new device and token). */
  async function appserviceLogin(body: typeof LoginBody.static, req: FastifyRequest) {
    const as = appserviceOf(services, req);
    if (as.rateLimited) app.limiter.take('login', req.ip);
    if (as.msc4190) throw MatrixError.forbidden('This appservice uses MSC4190 device management and may not log in users');
    if (body.identifier && body.identifier.type !== 'm.id.user')
      throw new MatrixError('M_UNKNOWN', `Unsupported identifier type ${body.identifier.type}`, 400);
    const user = body.identifier?.user ?? body.user;
    if (!user) throw MatrixError.missingParam('identifier.user is required');
    const userId = user.startsWith('@') ? user : services.accounts.userIdFor(user);
    if (!services.appservices!.ownsUser(as, userId))
      throw MatrixError.forbidden('User is not in the namespace of this application service');
    const existing = await services.accounts.getUser(userId);
    if (!existing) throw MatrixError.forbidden('Invalid username or password');
    if (existing.deactivated) throw new MatrixError('M_USER_DEACTIVATED', 'This account has been deactivated');
    const session = await services.accounts.createSession(userId, {
      deviceId: body.device_id,
      displayName: body.initial_device_display_name,
      ip: req.ip,
    });
    return loginResponse(session);
  }

  /** `POST /_matrix/client/v3/logout` — ends this session and deletes its device. */
  clientRoute(app, 'POST', '/_matrix/client/v3/logout', {}, async (req) => {
    const { userId, deviceId } = req.requester;
    if (deviceId) await services.accounts.deleteDevices(userId, [deviceId]);
    else await services.accounts.tokens.revokeToken(req.requester.accessToken!);
    return {};
  });

  /** `POST /_matrix/client/v3/logout/all` — ends every session of the user. */
  clientRoute(app, 'POST', '/_matrix/client/v3/logout/all', {}, async (req) => {
    const devices = await services.accounts.listDevices(req.requester.userId);
    await services.accounts.deleteDevices(
      req.requester.userId,
      devices.map((d) => d.device_id),
    );
    await services.accounts.tokens.revoke(req.requester.userId, 'all');
    return {};
  });
}
