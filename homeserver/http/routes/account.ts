import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { clientRoute } from './client-route.js';

const Auth = Type.Optional(Type.Object({}, { additionalProperties: true }));
const PASSWORD_FLOWS = [{ stages: ['m.login.password' as const] }];

export async function accountRoutes(app: FastifyInstance): Promise<void> {
  const { services } = app;

  /** `GET /_matrix/client/v3/account/whoami` */
  clientRoute(app, 'GET', '/_matrix/client/v3/account/whoami', {}, async (req) => ({
    user_id: req.requester.userId,
    ...(req.requester.deviceId ? { device_id: req.requester.deviceId } : {}),
    is_guest: false,
  }));

  /** `POST /_matrix/client/v3/account/password` — needs the current password (UIA m.login.password). */
  clientRoute(
    app,
    'POST',
    '/_matrix/client/v3/account/password',
    { schema: { body: Type.Object({ new_password: Type.String(), logout_devices: Type.Optional(Type.Boolean()), auth: Auth }) } },
    async (req) => {
      const body = req.body as { new_password: string; logout_devices?: boolean; auth?: Record<string, unknown> };
      await services.uia.require('account/password', body.auth, PASSWORD_FLOWS, req.requester.userId);
      await services.accounts.changePassword(req.requester.userId, body.new_password, body.logout_devices ?? true, req.requester.deviceId);
      return {};
    },
  );

  /** `POST /_matrix/client/v3/account/deactivate` — UIA, then the account leaves every room and loses its sessions. */
  clientRoute(
    app,
    'POST',
    '/_matrix/client/v3/account/deactivate',
    {
      schema: {
        body: Type.Optional(Type.Object({ auth: Auth, erase: Type.Optional(Type.Boolean()), id_server: Type.Optional(Type.String()) })),
      },
    },
    async (req) => {
      const body = (req.body ?? {}) as { auth?: Record<string, unknown> };
      const userId = req.requester.userId;
      await services.uia.require('account/deactivate', body.auth, PASSWORD_FLOWS, userId);
      for (const roomId of await services.rooms.reads.joinedRooms(userId)) {
        await services.rooms.membership
          .leave(req.requester, roomId)
          .catch((err) => req.log.warn({ err, roomId }, 'leave on deactivate failed'));
      }
      await services.accounts.deactivate(userId);
      await services.users.changed(userId);
      return { id_server_unbind_result: 'no-support' };
    },
  );
}
