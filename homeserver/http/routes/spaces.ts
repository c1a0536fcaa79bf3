import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { HierarchyQuery } from '../../services/rooms/spaces/space-hierarchy.js';
import { clientRoute } from './client-route.js';
import { roomIdOf } from './rooms.js';

export async function spaceRoutes(app: FastifyInstance): Promise<void> {
  const { rooms } = app.services;

  /**
   * `GET /_matrix/client/v1/rooms/{roomId}/hierarchy` (spec v1.2) — the space tree under a room,
   * local rooms only; `from` continues a walk, `limit` > 0, `max_depth` >= 0.
   */
  clientRoute(
    app,
    'GET',
    '/_matrix/client/v1/rooms/:roomId/hierarchy',
    {
      schema: {
        params: Type.Object({ roomId: Type.String() }),
        querystring: Type.Object({
          from: Type.Optional(Type.String()),
          limit: Type.Optional(Type.Integer({ minimum: 1 })),
          max_depth: Type.Optional(Type.Integer({ minimum: 0 })),
          suggested_only: Type.Optional(Type.Boolean()),
        }),
      },
    },
    async (req) => rooms.hierarchy.hierarchy(req.requester, roomIdOf(req), req.query as HierarchyQuery),
  );

  /** `GET /_matrix/client/v1/room_summary/{roomIdOrAlias}` (spec v1.15) — also at MSC3266's unstable path. */
  for (const path of [
    '/_matrix/client/v1/room_summary/:roomIdOrAlias',
    '/_matrix/client/unstable/im.nheko.summary/summary/:roomIdOrAlias',
  ]) {
    clientRoute(app, 'GET', path, { schema: { params: Type.Object({ roomIdOrAlias: Type.String() }) } }, async (req) =>
      rooms.summaries.summary(req.requester, (req.params as { roomIdOrAlias: string }).roomIdOrAlias),
    );
  }
}
