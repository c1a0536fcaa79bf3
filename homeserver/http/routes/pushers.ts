import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { parsePusherRequest } from '../../services/push/pusher-request.js';
import { clientRoute } from './client-route.js';

/** Pushers (spec: "Push notifications", Client behaviour). Delivery: services/push/pusher-delivery.ts. */
export async function pusherRoutes(app: FastifyInstance): Promise<void> {
  const { pushers } = app.services;

  /** `GET /_matrix/client/v3/pushers` — the user's pushers, every device's. */
  clientRoute(app, 'GET', '/_matrix/client/v3/pushers', {}, async (req) => ({ pushers: await pushers.list(req.requester.userId) }));

  /**
   * `POST /_matrix/client/v3/pushers/set` — creates or updates the pusher (app_id, pushkey) of the
   * user (tied to the calling device), or deletes it when `kind` is null. The body is checked by
   * parsePusherRequest, which picks the errcodes Synapse answers with.
   */
  clientRoute(
    app,
    'POST',
    '/_matrix/client/v3/pushers/set',
    { schema: { body: Type.Object({}, { additionalProperties: true }) } },
    async (req) => {
      await pushers.set(req.requester.userId, req.requester.deviceId, parsePusherRequest(req.body));
      return {};
    },
  );
}
