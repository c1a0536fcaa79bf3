import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { MatrixError } from '../../matrix/errors.js';
import type { RoomEventsCriteria } from '../../services/rooms/search/search-request.js';
import { clientRoute } from './client-route.js';

const Strings = Type.Array(Type.String());

/** RoomEventFilter as far as search uses it; wrong types are M_BAD_JSON like the rest of the body. */
const RoomEventFilter = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 0 })),
  rooms: Type.Optional(Strings),
  not_rooms: Type.Optional(Strings),
  senders: Type.Optional(Strings),
  not_senders: Type.Optional(Strings),
  types: Type.Optional(Strings),
  not_types: Type.Optional(Strings),
  contains_url: Type.Optional(Type.Boolean()),
});

const RoomEvents = Type.Object({
  search_term: Type.String(),
  keys: Type.Optional(Type.Array(Type.Union([Type.Literal('content.body'), Type.Literal('content.name'), Type.Literal('content.topic')]))),
  filter: Type.Optional(RoomEventFilter),
  order_by: Type.Optional(Type.Union([Type.Literal('recent'), Type.Literal('rank')])),
  event_context: Type.Optional(
    Type.Object({
      before_limit: Type.Optional(Type.Integer({ minimum: 0 })),
      after_limit: Type.Optional(Type.Integer({ minimum: 0 })),
      include_profile: Type.Optional(Type.Boolean()),
    }),
  ),
  include_state: Type.Optional(Type.Boolean()),
  groupings: Type.Optional(
    Type.Object({
      group_by: Type.Optional(
        Type.Array(Type.Object({ key: Type.Optional(Type.Union([Type.Literal('room_id'), Type.Literal('sender')])) })),
      ),
    }),
  ),
});

export async function searchRoutes(app: FastifyInstance): Promise<void> {
  const { rooms } = app.services;

  /**
   * `POST /_matrix/client/v3/search` — full-text search of the room_events category (the only one
   * the spec defines) over what the user could read; `next_batch` (query) continues a search.
   */
  clientRoute(
    app,
    'POST',
    '/_matrix/client/v3/search',
    {
      schema: {
        querystring: Type.Object({ next_batch: Type.Optional(Type.String()) }),
        body: Type.Object({ search_categories: Type.Object({ room_events: Type.Optional(RoomEvents) }) }),
      },
    },
    async (req) => {
      const criteria = (req.body as { search_categories: { room_events?: RoomEventsCriteria } }).search_categories.room_events;
      if (!criteria) throw MatrixError.badJson('search_categories.room_events is required (the only search category)');
      return rooms.search.search(req.requester, criteria, (req.query as { next_batch?: string }).next_batch);
    },
  );
}
