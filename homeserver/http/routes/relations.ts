import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { RelationsQuery } from '../../services/rooms/relation-reads.js';
import { clientRoute } from './client-route.js';
import { roomIdOf } from './rooms.js';

const RelationsQuerystring = Type.Object({
  from: Type.Optional(Type.String()),
  to: Type.Optional(Type.String()),
  limit: Type.Optional(Type.Integer({ minimum: 0 })),
  dir: Type.Optional(Type.Union([Type.Literal('b'), Type.Literal('f')])),
  recurse: Type.Optional(Type.Boolean()),
});

export async function relationRoutes(app: FastifyInstance): Promise<void> {
  const { rooms } = app.services;
  const base = '/_matrix/client/v1/rooms/:roomId/relations/:eventId';
  // The three spec paths share one handler: a missing relType/eventType means "any".
  for (const suffix of ['', '/:relType', '/:relType/:eventType']) {
    /**
     * `GET /_matrix/client/v1/rooms/{roomId}/relations/{eventId}[/{relType}[/{eventType}]]` —
     * children of a visible event; from/to/limit/dir/recurse.
     */
    clientRoute(
      app,
      'GET',
      base + suffix,
      {
        schema: {
          params: Type.Object({
            roomId: Type.String(),
            eventId: Type.String(),
            relType: Type.Optional(Type.String({ minLength: 1 })),
            eventType: Type.Optional(Type.String({ minLength: 1 })),
          }),
          querystring: RelationsQuerystring,
        },
      },
      async (req) => {
        const { eventId, relType, eventType } = req.params as { eventId: string; relType?: string; eventType?: string };
        const q = req.query as Omit<RelationsQuery, 'relType' | 'eventType'>;
        return rooms.relations.relations(req.requester, roomIdOf(req), eventId, { ...q, relType, eventType });
      },
    );
  }

  /** `GET /_matrix/client/v1/rooms/{roomId}/threads` — thread roots by latest activity; include=all|participated, limit, from. */
  clientRoute(
    app,
    'GET',
    '/_matrix/client/v1/rooms/:roomId/threads',
    {
      schema: {
        params: Type.Object({ roomId: Type.String() }),
        querystring: Type.Object({
          include: Type.Optional(Type.Union([Type.Literal('all'), Type.Literal('participated')])),
          limit: Type.Optional(Type.Integer({ minimum: 1 })),
          from: Type.Optional(Type.String()),
        }),
      },
    },
    async (req) =>
      rooms.relations.threads(
        req.requester,
        roomIdOf(req),
        req.query as { include?: 'all' | 'participated'; limit?: number; from?: string },
      ),
  );
}
