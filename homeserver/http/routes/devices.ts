import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { MatrixError } from '../../matrix/errors.js';
import { clientRoute } from './client-route.js';

const DeviceParams = Type.Object({ deviceId: Type.String() });
const PASSWORD_FLOWS = [{ stages: ['m.login.password' as const] }];

export async function deviceRoutes(app: FastifyInstance): Promise<void> {
  const { accounts, uia } = app.services;
  const view = (d: { device_id: string; display_name: string | null; last_seen_ts: number | null; last_seen_ip: string | null }) => ({
    device_id: d.device_id,
    ...(d.display_name !== null ? { display_name: d.display_name } : {}),
    ...(d.last_seen_ts !== null ? { last_seen_ts: d.last_seen_ts } : {}),
    ...(d.last_seen_ip !== null ? { last_seen_ip: d.last_seen_ip } : {}),
  });

  const msc4190Appservice = (id: string | undefined) => (id ? app.services.appservices?.byId(id)?.msc4190 === true : false);

  /** `GET /_matrix/client/v3/devices` */
  clientRoute(app, 'GET', '/_matrix/client/v3/devices', {}, async (req) => ({
    devices: (await accounts.listDevices(req.requester.userId)).map(view),
  }));

  /** `GET /_matrix/client/v3/devices/{deviceId}` */
  clientRoute(app, 'GET', '/_matrix/client/v3/devices/:deviceId', { schema: { params: DeviceParams } }, async (req) => {
    const device = await accounts.getDevice(req.requester.userId, (req.params as { deviceId: string }).deviceId);
    if (!device) throw MatrixError.notFound('Device not found');
    return view(device);
  });

  /** `PUT /_matrix/client/v3/devices/{deviceId}` — rename. */
  clientRoute(
    app,
    'PUT',
    '/_matrix/client/v3/devices/:deviceId',
    { schema: { params: DeviceParams, body: Type.Object({ display_name: Type.Optional(Type.String({ maxLength: 1024 })) }) } },
    async (req) => {
      const { deviceId } = req.params as { deviceId: string };
      const name = (req.body as { display_name?: string }).display_name;
      if (await accounts.updateDevice(req.requester.userId, deviceId, name ?? null)) return {};
      // MSC4190: an appservice with io.element.msc4190 creates its users' devices with this PUT.
      const as = req.requester.appserviceId ? app.services.appservices?.byId(req.requester.appserviceId) : undefined;
      if (!as?.msc4190) throw MatrixError.notFound('Device not found');
      await accounts.createDevice(req.requester.userId, deviceId, name ?? null);
      return {};
    },
  );

  /** `DELETE /_matrix/client/v3/devices/{deviceId}` — UIA m.login.password. */
  clientRoute(
    app,
    'DELETE',
    '/_matrix/client/v3/devices/:deviceId',
    {
      schema: {
        params: DeviceParams,
        body: Type.Optional(Type.Object({ auth: Type.Optional(Type.Object({}, { additionalProperties: true })) })),
      },
    },
    async (req) => {
      const { deviceId } = req.params as { deviceId: string };
      if (!(await accounts.getDevice(req.requester.userId, deviceId))) throw MatrixError.notFound('Device not found');
      // MSC4190: appservices delete their users' devices without UIA.
      if (!msc4190Appservice(req.requester.appserviceId))
        await uia.require(
          `devices/delete`,
          (req.body as { auth?: Record<string, unknown> } | undefined)?.auth,
          PASSWORD_FLOWS,
          req.requester.userId,
        );
      await accounts.deleteDevices(req.requester.userId, [deviceId]);
      return {};
    },
  );

  /** `POST /_matrix/client/v3/delete_devices` — UIA m.login.password. */
  clientRoute(
    app,
    'POST',
    '/_matrix/client/v3/delete_devices',
    {
      schema: {
        body: Type.Object({ devices: Type.Array(Type.String()), auth: Type.Optional(Type.Object({}, { additionalProperties: true })) }),
      },
    },
    async (req) => {
      const body = req.body as { devices: string[]; auth?: Record<string, unknown> };
      if (!msc4190Appservice(req.requester.appserviceId))
        await uia.require('devices/delete', body.auth, PASSWORD_FLOWS, req.requester.userId);
      await accounts.deleteDevices(req.requester.userId, body.devices);
      return {};
    },
  );
}
