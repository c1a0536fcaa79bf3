import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { clientRoute } from './client-route.js';
import type { CreateRoomRequest } from '../../services/rooms/create-room.js';

const AnyObject = Type.Object({}, { additionalProperties: true });
const StateEvent = Type.Object({
  type: Type.String({ minLength: 1, maxLength: 255 }),
  state_key: Type.Optional(Type.String()),
  content: AnyObject,
});

const CreateRoomBody = Type.Object({
  visibility: Type.Optional(Type.Union([Type.Literal('public'), Type.Literal('private')])),
  room_alias_name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  name: Type.Optional(Type.String({ maxLength: 255 })),
  topic: Type.Optional(Type.String({ maxLength: 4096 })),
  invite: Type.Optional(Type.Array(Type.String(), { maxItems: 1000 })),
  invite_3pid: Type.Optional(Type.Array(AnyObject)),
  room_version: Type.Optional(Type.String()),
  creation_content: Type.Optional(AnyObject),
  initial_state: Type.Optional(Type.Array(StateEvent, { maxItems: 100 })),
  preset: Type.Optional(Type.Union([Type.Literal('private_chat'), Type.Literal('public_chat'), Type.Literal('trusted_private_chat')])),
  is_direct: Type.Optional(Type.Boolean()),
  power_level_content_override: Type.Optional(AnyObject),
});

const RoomParams = Type.Object({ roomId: Type.String() });
const Reason = Type.Optional(Type.String({ maxLength: 1024 }));
const TargetBody = Type.Object({ user_id: Type.String(), reason: Reason });

export async function roomRoutes(app: FastifyInstance): Promise<void> {
  const { rooms } = app.services;

  /** `POST /_matrix/client/v3/createRoom` */
  clientRoute(app, 'POST', '/_matrix/client/v3/createRoom', { schema: { body: CreateRoomBody } }, async (req) =>
    rooms.create(req.requester, (req.body ?? {}) as CreateRoomRequest),
  );

  /** `GET /_matrix/client/v3/joined_rooms` */
  clientRoute(app, 'GET', '/_matrix/client/v3/joined_rooms', {}, async (req) => ({
    joined_rooms: await rooms.reads.joinedRooms(req.requester.userId),
  }));

  /** `POST /_matrix/client/v3/join/{roomIdOrAlias}` */
  clientRoute(
    app,
    'POST',
    '/_matrix/client/v3/join/:roomIdOrAlias',
    {
      schema: {
        params: Type.Object({ roomIdOrAlias: Type.String() }),
        body: Type.Optional(Type.Object({ reason: Reason }, { additionalProperties: true })),
      },
    },
    async (req) => {
      const { roomIdOrAlias } = req.params as { roomIdOrAlias: string };
      return { room_id: await rooms.membership.join(req.requester, roomIdOrAlias, (req.body as { reason?: string } | undefined)?.reason) };
    },
  );

  /** `POST /_matrix/client/v3/rooms/{roomId}/join` */
  clientRoute(
    app,
    'POST',
    '/_matrix/client/v3/rooms/:roomId/join',
    { schema: { params: RoomParams, body: Type.Optional(Type.Object({ reason: Reason }, { additionalProperties: true })) } },
    async (req) => ({
      room_id: await rooms.membership.join(req.requester, roomIdOf(req), (req.body as { reason?: string } | undefined)?.reason),
    }),
  );

  /** `POST /_matrix/client/v3/rooms/{roomId}/invite` */
  clientRoute(app, 'POST', '/_matrix/client/v3/rooms/:roomId/invite', { schema: { params: RoomParams, body: TargetBody } }, async (req) => {
    const b = req.body as { user_id: string; reason?: string };
    await rooms.membership.invite(req.requester, roomIdOf(req), b.user_id, b.reason);
    return {};
  });

  /** `POST /_matrix/client/v3/rooms/{roomId}/leave` */
  clientRoute(
    app,
    'POST',
    '/_matrix/client/v3/rooms/:roomId/leave',
    { schema: { params: RoomParams, body: Type.Optional(Type.Object({ reason: Reason })) } },
    async (req) => {
      await rooms.membership.leave(req.requester, roomIdOf(req), (req.body as { reason?: string } | undefined)?.reason);
      return {};
    },
  );

  /** `POST /_matrix/client/v3/rooms/{roomId}/kick|ban|unban` — one handler shape, three spec endpoints. */
  for (const action of ['kick', 'ban', 'unban'] as const) {
    clientRoute(
      app,
      'POST',
      `/_matrix/client/v3/rooms/:roomId/${action}`,
      { schema: { params: RoomParams, body: TargetBody } },
      async (req) => {
        const b = req.body as { user_id: string; reason?: string };
        await rooms.membership[action](req.requester, roomIdOf(req), b.user_id, b.reason);
        return {};
      },
    );
  }

  /** `POST /_matrix/client/v3/rooms/{roomId}/forget` */
  clientRoute(app, 'POST', '/_matrix/client/v3/rooms/:roomId/forget', { schema: { params: RoomParams } }, async (req) => {
    await rooms.membership.forget(req.requester, roomIdOf(req));
    return {};
  });
}

export const roomIdOf = (req: { params: unknown }) => (req.params as { roomId: string }).roomId;
