import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { MatrixError } from '../../matrix/errors.js';
import type { EventFilter } from '../../services/rooms/room-reads.js';
import { clientRoute } from './client-route.js';
import { roomIdOf } from './rooms.js';

const RoomParams = Type.Object({ roomId: Type.String() });

/** The `filter` query parameter is a JSON-encoded RoomEventFilter. */
function parseFilter(raw: string | undefined): EventFilter | undefined {
  if (raw === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw MatrixError.invalidParam('filter is not valid JSON');
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw MatrixError.invalidParam('filter must be a JSON object');
  const f = value as Record<string, unknown>;
  for (const key of ['types', 'not_types', 'senders', 'not_senders'] as const) {
    if (f[key] !== undefined && (!Array.isArray(f[key]) || !(f[key] as unknown[]).every((x) => typeof x === 'string')))
      throw MatrixError.invalidParam(`filter.${key} must be a list of strings`);
  }
  if (f.limit !== undefined && (!Number.isInteger(f.limit) || (f.limit as number) < 0))
    throw MatrixError.invalidParam('filter.limit must be a non-negative integer');
  return f as EventFilter;
}

export async function roomHistoryRoutes(app: FastifyInstance): Promise<void> {
  const { rooms } = app.services;

  /** `GET /_matrix/client/v3/rooms/{roomId}/messages` — dir b|f, from/to tokens, limit, filter. */
  clientRoute(
    app,
    'GET',
    '/_matrix/client/v3/rooms/:roomId/messages',
    {
      schema: {
        params: RoomParams,
        querystring: Type.Object({
          from: Type.Optional(Type.String()),
          to: Type.Optional(Type.String()),
          dir: Type.Union([Type.Literal('b'), Type.Literal('f')]),
          limit: Type.Optional(Type.Integer({ minimum: 0 })),
          filter: Type.Optional(Type.String()),
        }),
      },
    },
    async (req) => {
      const q = req.query as { from?: string; to?: string; dir: 'b' | 'f'; limit?: number; filter?: string };
      return rooms.reads.messages(req.requester, roomIdOf(req), { ...q, filter: parseFilter(q.filter) });
    },
  );

  /** `GET /_matrix/client/v3/rooms/{roomId}/context/{eventId}` */
  clientRoute(
    app,
    'GET',
    '/_matrix/client/v3/rooms/:roomId/context/:eventId',
    {
      schema: {
        params: Type.Object({ roomId: Type.String(), eventId: Type.String() }),
        querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 0 })), filter: Type.Optional(Type.String()) }),
      },
    },
    async (req) => {
      const { eventId } = req.params as { eventId: string };
      const q = req.query as { limit?: number; filter?: string };
      return rooms.reads.context(req.requester, roomIdOf(req), eventId, q.limit ?? 10, parseFilter(q.filter));
    },
  );

  /** `GET /_matrix/client/v3/rooms/{roomId}/members` */
  clientRoute(
    app,
    'GET',
    '/_matrix/client/v3/rooms/:roomId/members',
    {
      schema: {
        params: RoomParams,
        querystring: Type.Object({
          at: Type.Optional(Type.String()),
          membership: Type.Optional(Type.String()),
          not_membership: Type.Optional(Type.String()),
        }),
      },
    },
    async (req) =>
      rooms.reads.members(req.requester, roomIdOf(req), req.query as { at?: string; membership?: string; not_membership?: string }),
  );

  /** `GET /_matrix/client/v3/rooms/{roomId}/joined_members` */
  clientRoute(app, 'GET', '/_matrix/client/v3/rooms/:roomId/joined_members', { schema: { params: RoomParams } }, async (req) =>
    rooms.reads.joinedMembers(req.requester, roomIdOf(req)),
  );
}
