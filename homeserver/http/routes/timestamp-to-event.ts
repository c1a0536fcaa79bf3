import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { clientRoute } from './client-route.js';

export async function timestampToEventRoutes(app: FastifyInstance): Promise<void> {
  const { services } = app;

  /**
   * `GET /_matrix/client/v1/rooms/{roomId}/timestamp_to_event?ts=&dir=f|b` (jump to date) — the
   * closest event the requester may see at or after (f) / at or before (b) `ts`; 404 M_NOT_FOUND
   * when there is none, 400 for a missing or malformed `ts` or a `dir` other than f or b.
   */
  clientRoute(
    app,
    'GET',
    '/_matrix/client/v1/rooms/:roomId/timestamp_to_event',
    {
      schema: {
        params: Type.Object({ roomId: Type.String() }),
        // dir defaults to f as in Synapse (the spec marks it required; clients always send it).
        querystring: Type.Object({
          ts: Type.Integer({ minimum: Number.MIN_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER }),
          dir: Type.Union([Type.Literal('f'), Type.Literal('b')], { default: 'f' }),
        }),
      },
    },
    async (req) => {
      const { roomId } = req.params as { roomId: string };
      const { ts, dir } = req.query as { ts: number; dir: 'f' | 'b' };
      return services.eventByTimestamp.find(req.requester, roomId, ts, dir);
    },
  );
}
