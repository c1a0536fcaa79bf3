import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { MatrixError } from '../../matrix/errors.js';
import { clientRoute } from './client-route.js';
import { appserviceOf } from '../auth.js';

const RegisterBody = Type.Object({
  type: Type.Optional(Type.String()),
  auth: Type.Optional(Type.Object({ type: Type.Optional(Type.String()), session: Type.Optional(Type.String()) })),
  username: Type.Optional(Type.String()),
  password: Type.Optional(Type.String()),
  device_id: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
  initial_device_display_name: Type.Optional(Type.String({ maxLength: 1024 })),
  inhibit_login: Type.Optional(Type.Boolean()),
  refresh_token: Type.Optional(Type.Boolean()),
});

export async function registerRoutes(app: FastifyInstance): Promise<void> {
  const { services } = app;
  const { accounts, uia, config } = services;

  /** `POST /_matrix/client/v3/register` — open registration with m.login.dummy when enabled.
   *  Username validity and availability are checked before UIA, so clients learn early. */
  clientRoute(
    app,
    'POST',
    '/_matrix/client/v3/register',
    { auth: false, schema: { body: RegisterBody, querystring: Type.Object({ kind: Type.Optional(Type.String()) }) } },
    async (req) => {
      const body = (req.body ?? {}) as typeof RegisterBody.static;
      if ((req.query as { kind?: string }).kind === 'guest') throw new MatrixError('M_GUEST_ACCESS_FORBIDDEN', 'Guest access is disabled');
      // Appservice ghosts: as_token, no password, no UIA, no rate limit, works with registration closed;
      // only names in the appservice's namespaces (M_EXCLUSIVE otherwise, checked by Accounts).
      if (body.type === 'm.login.application_service' || body.auth?.type === 'm.login.application_service') {
        const as = appserviceOf(services, req);
        if (!body.username) throw MatrixError.missingParam('username is required');
        if (as.msc4190 && !body.inhibit_login)
          throw MatrixError.invalidParam('This appservice uses MSC4190 device management: set inhibit_login to true');
        const result = await accounts.register({
          localpart: body.username,
          appserviceId: as.id,
          device: body.inhibit_login ? undefined : { deviceId: body.device_id, displayName: body.initial_device_display_name, ip: req.ip },
        });
        return {
          user_id: result.userId,
          home_server: services.serverName,
          ...(result.session ? { access_token: result.session.accessToken, device_id: result.session.deviceId } : {}),
        };
      }
      if (!config.registration.enabled) throw MatrixError.forbidden('Registration has been disabled');
      app.limiter.take('register', req.ip);
      const localpart = body.username?.toLowerCase() ?? randomLocalpart();
      await accounts.checkAvailable(localpart);
      if (body.password === undefined && body.auth?.type !== undefined) throw MatrixError.missingParam('password is required');
      await uia.require('register', body.auth, [{ stages: ['m.login.dummy'] }]);
      if (body.password === undefined) throw MatrixError.missingParam('password is required');
      const result = await accounts.register({
        localpart,
        password: body.password,
        device: body.inhibit_login ? undefined : { deviceId: body.device_id, displayName: body.initial_device_display_name, ip: req.ip },
      });
      return {
        user_id: result.userId,
        home_server: services.serverName,
        ...(result.session ? { access_token: result.session.accessToken, device_id: result.session.deviceId } : {}),
      };
    },
  );

  /** `GET /_matrix/client/v3/register/available` */
  clientRoute(
    app,
    'GET',
    '/_matrix/client/v3/register/available',
    { auth: false, schema: { querystring: Type.Object({ username: Type.String() }) } },
    async (req) => {
      app.limiter.take('register', req.ip);
      await accounts.checkAvailable((req.query as { username: string }).username);
      return { available: true };
    },
  );

  /** `GET /_synapse/admin/v1/register` — a nonce for shared-secret registration (Synapse-compatible). */
  app.get('/_synapse/admin/v1/register', async () => {
    if (!config.registration.shared_secret) throw MatrixError.forbidden('Shared secret registration is not enabled');
    const nonce = randomBytes(16).toString('hex');
    await services.db.query('INSERT INTO hs_uia_sessions (session_id, action, created_ts) VALUES ($1, $2, $3)', [
      nonce,
      'shared_secret_register',
      Date.now(),
    ]);
    return { nonce };
  });

  /** `POST /_synapse/admin/v1/register` — mac = HMAC-SHA1(secret, nonce\0user\0password\0admin|notadmin). */
  app.post(
    '/_synapse/admin/v1/register',
    {
      schema: {
        body: Type.Object({
          nonce: Type.String(),
          username: Type.String(),
          password: Type.String(),
          mac: Type.String(),
          admin: Type.Optional(Type.Boolean()),
          displayname: Type.Optional(Type.String()),
        }),
      },
    },
    async (req) => {
      const secret = config.registration.shared_secret;
      if (!secret) throw MatrixError.forbidden('Shared secret registration is not enabled');
      const b = req.body as { nonce: string; username: string; password: string; mac: string; admin?: boolean; displayname?: string };
      const used = await services.db.query(
        "DELETE FROM hs_uia_sessions WHERE session_id = $1 AND action = 'shared_secret_register' AND created_ts > $2",
        [b.nonce, Date.now() - 60_000],
      );
      if (used.rowCount !== 1) throw new MatrixError('M_UNKNOWN', 'Unrecognised nonce', 400);
      const expected = createHmac('sha1', secret)
        .update([b.nonce, b.username, b.password, b.admin ? 'admin' : 'notadmin'].join('\0'))
        .digest();
      const given = Buffer.from(b.mac, 'hex');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw MatrixError.forbidden('HMAC incorrect');
      const result = await accounts.register({
        localpart: b.username.toLowerCase(),
        password: b.password,
        admin: b.admin ?? false,
        displayName: b.displayname,
        device: { ip: req.ip },
      });
      return {
        user_id: result.userId,
        access_token: result.session!.accessToken,
        device_id: result.session!.deviceId,
        home_server: services.serverName,
      };
    },
  );
}

function randomLocalpart(): string {
  return `u${randomBytes(6).readUIntBE(0, 6).toString(36)}`;
}
