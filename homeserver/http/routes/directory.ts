import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { clientRoute } from './client-route.js';
import { roomIdOf } from './rooms.js';

const AliasParams = Type.Object({ roomAlias: Type.String() });
const Visibility = Type.Union([Type.Literal('public'), Type.Literal('private')]);

export async function directoryRoutes(app: FastifyInstance): Promise<void> {
  const { rooms } = app.services;

  /** `PUT /_matrix/client/v3/directory/room/{roomAlias}` — 409 when the alias exists. */
  clientRoute(
    app,
    'PUT',
    '/_matrix/client/v3/directory/room/:roomAlias',
    { schema: { params: AliasParams, body: Type.Object({ room_id: Type.String() }) } },
    async (req) => {
      await rooms.aliases.create(req.requester, (req.params as { roomAlias: string }).roomAlias, (req.body as { room_id: string }).room_id);
      return {};
    },
  );

  /** `GET /_matrix/client/v3/directory/room/{roomAlias}` — no auth required by the spec. */
  clientRoute(app, 'GET', '/_matrix/client/v3/directory/room/:roomAlias', { auth: false, schema: { params: AliasParams } }, async (req) =>
    rooms.aliases.resolve((req.params as { roomAlias: string }).roomAlias),
  );

  /** `DELETE /_matrix/client/v3/directory/room/{roomAlias}` */
  clientRoute(app, 'DELETE', '/_matrix/client/v3/directory/room/:roomAlias', { schema: { params: AliasParams } }, async (req) => {
    await rooms.aliases.delete(req.requester, (req.params as { roomAlias: string }).roomAlias);
    return {};
  });

  /** `GET /_matrix/client/v3/rooms/{roomId}/aliases` — members only. */
  clientRoute(
    app,
    'GET',
    '/_matrix/client/v3/rooms/:roomId/aliases',
    { schema: { params: Type.Object({ roomId: Type.String() }) } },
    async (req) => {
      await rooms.reads.stateEvent(req.requester, roomIdOf(req), 'm.room.create', '');
      return { aliases: await rooms.aliases.listForRoom(roomIdOf(req)) };
    },
  );

  /** `GET /_matrix/client/v3/directory/list/room/{roomId}` */
  clientRoute(
    app,
    'GET',
    '/_matrix/client/v3/directory/list/room/:roomId',
    { auth: false, schema: { params: Type.Object({ roomId: Type.String() }) } },
    async (req) => ({
      visibility: await rooms.directory.visibility(roomIdOf(req)),
    }),
  );

  /** `PUT /_matrix/client/v3/directory/list/room/{roomId}` */
  clientRoute(
    app,
    'PUT',
    '/_matrix/client/v3/directory/list/room/:roomId',
    { schema: { params: Type.Object({ roomId: Type.String() }), body: Type.Object({ visibility: Type.Optional(Visibility) }) } },
    async (req) => {
      await rooms.directory.setVisibility(
        req.requester,
        roomIdOf(req),
        (req.body as { visibility?: 'public' | 'private' }).visibility ?? 'public',
      );
      return {};
    },
  );

  /** `GET /_matrix/client/v3/publicRooms` — Synapse serves it without auth by default. */
  clientRoute(
    app,
    'GET',
    '/_matrix/client/v3/publicRooms',
    {
      auth: false,
      schema: {
        querystring: Type.Object({
          limit: Type.Optional(Type.Integer({ minimum: 0 })),
          since: Type.Optional(Type.String()),
          server: Type.Optional(Type.String()),
        }),
      },
    },
    async (req) => rooms.directory.publicRooms(req.query as { limit?: number; since?: string }),
  );

  /** `POST /_matrix/client/v3/publicRooms` — with a search filter. */
  clientRoute(
    app,
    'POST',
    '/_matrix/client/v3/publicRooms',
    {
      schema: {
        body: Type.Object({
          limit: Type.Optional(Type.Integer({ minimum: 0 })),
          since: Type.Optional(Type.String()),
          filter: Type.Optional(
            Type.Object({
              generic_search_term: Type.Optional(Type.String()),
              room_types: Type.Optional(Type.Array(Type.Union([Type.String(), Type.Null()]))),
            }),
          ),
          include_all_networks: Type.Optional(Type.Boolean()),
          third_party_instance_id: Type.Optional(Type.String()),
        }),
      },
    },
    async (req) => rooms.directory.publicRooms(req.body as { limit?: number; since?: string }),
  );
}
