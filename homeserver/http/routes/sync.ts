import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { clientRoute } from './client-route.js';
import { Cancellation } from '../../services/sync/cancellation.js';

const MAX_TIMEOUT_MS = 120_000;

export async function syncRoutes(app: FastifyInstance): Promise<void> {
  const { services } = app;

  /** `GET /_matrix/client/v3/sync` — initial and incremental sync with long-poll. */
  clientRoute(
    app,
    'GET',
    '/_matrix/client/v3/sync',
    {
      schema: {
        querystring: Type.Object({
          since: Type.Optional(Type.String()),
          timeout: Type.Optional(Type.Integer({ minimum: 0 })),
          full_state: Type.Optional(Type.Boolean()),
          set_presence: Type.Optional(Type.Union([Type.Literal('online'), Type.Literal('offline'), Type.Literal('unavailable')])),
          filter: Type.Optional(Type.String()),
          use_state_after: Type.Optional(Type.Boolean()),
        }),
      },
    },
    async (req) => {
      const q = req.query as { since?: string; timeout?: number; full_state?: boolean; set_presence?: string; filter?: string };
      const filter = await services.syncFilters.resolve(req.requester.userId, q.filter);
      if (q.set_presence && services.setPresenceFromSync)
        await services.setPresenceFromSync(req.requester.userId, q.set_presence, Math.min(q.timeout ?? 0, MAX_TIMEOUT_MS));
      // A client that disconnects stops its long-poll at once. The listener goes when the sync
      // returns: 'close' also fires after every normal response.
      const cancellation = new Cancellation();
      const onClose = () => cancellation.cancel();
      req.raw.once('close', onClose);
      try {
        return await services.sync.sync(
          req.requester,
          { since: q.since, timeoutMs: Math.min(q.timeout ?? 0, MAX_TIMEOUT_MS), fullState: q.full_state ?? false, filter },
          cancellation,
        );
      } finally {
        req.raw.off('close', onClose);
      }
    },
  );
}
