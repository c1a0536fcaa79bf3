import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { ToDeviceMessages } from '../../services/e2e/to-device.js';
import { clientRoute } from './client-route.js';

/** Send-to-device messaging (spec: Client-Server API, "Send-to-Device messaging"). */
export async function toDeviceRoutes(app: FastifyInstance): Promise<void> {
  const { e2e } = app.services;

  /** `PUT /_matrix/client/v3/sendToDevice/{eventType}/{txnId}` — idempotent per device and txnId; `*` = every device. */
  clientRoute(
    app,
    'PUT',
    '/_matrix/client/v3/sendToDevice/:eventType/:txnId',
    {
      schema: {
        params: Type.Object({
          eventType: Type.String({ minLength: 1, maxLength: 255 }),
          txnId: Type.String({ minLength: 1, maxLength: 255 }),
        }),
        body: Type.Object(
          {
            messages: Type.Record(Type.String(), Type.Record(Type.String(), Type.Object({}, { additionalProperties: true }))),
          },
          { additionalProperties: true },
        ),
      },
    },
    async (req) => {
      const { eventType, txnId } = req.params as { eventType: string; txnId: string };
      app.limiter.take('send', req.requester.userId);
      await e2e.toDevice.send(req.requester, eventType, txnId, (req.body as { messages: ToDeviceMessages }).messages);
      return {};
    },
  );
}
