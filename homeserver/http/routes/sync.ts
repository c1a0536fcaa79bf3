import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { MatrixError } from '../../matrix/errors.js';
import { parseSyncFilter, type SyncFilter } from '../../services/sync/sync-filter.js';
import { clientRoute } from './client-route.js';
import { Cancellation } from '../../services/sync/cancellation.js';

const MAX_TIMEOUT_MS = 120_000;

/** Resolves the `filter` query parameter: inline JSON (starts with `{`) or a stored filter id. */
export type FilterLookup = (userId: string, filterId: string) => Promise<unknown | undefined>;

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
      const filter = await resolveFilter(services.syncFilterLookup, req.requester.userId, q.filter);
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

async function resolveFilter(lookup: FilterLookup | undefined, userId: string, raw: string | undefined): Promise<SyncFilter | undefined> {
  if (raw === undefined || raw === '') return undefined;
  if (raw.trimStart().startsWith('{')) {
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      throw MatrixError.invalidParam('filter is not valid JSON');
    }
    return parseSyncFilter(value);
  }
  const stored = lookup ? await lookup(userId, raw) : undefined;
  if (stored === undefined) throw MatrixError.invalidParam(`Unknown filter ${raw.slice(0, 40)}`);
  return parseSyncFilter(stored);
}
