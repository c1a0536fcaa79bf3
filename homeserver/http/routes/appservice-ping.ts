import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { MatrixError } from '../../matrix/errors.js';
import { appserviceOf } from '../auth.js';

/**
 * `POST /_matrix/client/v1/appservice/{appserviceId}/ping` (MSC2659, spec v1.7): the appservice,
 * authenticated by its as_token, asks the homeserver to ping it back at `POST {url}/_matrix/app/v1/ping`.
 */
export async function appservicePingRoutes(app: FastifyInstance): Promise<void> {
  app.route({
    method: 'POST',
    url: '/_matrix/client/v1/appservice/:appserviceId/ping',
    schema: {
      params: Type.Object({ appserviceId: Type.String() }),
      body: Type.Optional(Type.Object({ transaction_id: Type.Optional(Type.String()) }, { additionalProperties: true })),
    },
    handler: async (req, reply) => {
      const caller = appserviceOf(app.services, req);
      const delivery = app.services.appserviceDelivery;
      if (!delivery) throw MatrixError.unrecognized('Appservice delivery is not running on this server');
      const { appserviceId } = req.params as { appserviceId: string };
      const body = (req.body ?? {}) as { transaction_id?: string };
      const r = await delivery.ping(caller, appserviceId, body.transaction_id);
      return reply.code(r.status).send(r.body);
    },
  });
}
