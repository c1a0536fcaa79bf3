import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { MatrixError } from '../../matrix/errors.js';
import { clientRoute } from './client-route.js';
import { roomIdOf } from './rooms.js';

export async function ephemeralRoutes(app: FastifyInstance): Promise<void> {
  const { services } = app;

  /** `PUT /_matrix/client/v3/rooms/{roomId}/typing/{userId}` — only for yourself. */
  clientRoute(
    app,
    'PUT',
    '/_matrix/client/v3/rooms/:roomId/typing/:userId',
    {
      schema: {
        params: Type.Object({ roomId: Type.String(), userId: Type.String() }),
        body: Type.Object({ typing: Type.Boolean(), timeout: Type.Optional(Type.Integer({ minimum: 0 })) }),
      },
    },
    async (req) => {
      const { userId } = req.params as { userId: string };
      if (userId !== req.requester.userId) throw MatrixError.forbidden('You may only set your own typing state');
      const body = req.body as { typing: boolean; timeout?: number };
      await services.typing.set(userId, roomIdOf(req), body.typing, body.timeout);
      return {};
    },
  );

  /** `POST /_matrix/client/v3/rooms/{roomId}/receipt/{receiptType}/{eventId}` */
  clientRoute(
    app,
    'POST',
    '/_matrix/client/v3/rooms/:roomId/receipt/:receiptType/:eventId',
    {
      schema: {
        params: Type.Object({ roomId: Type.String(), receiptType: Type.String(), eventId: Type.String() }),
        body: Type.Optional(Type.Object({ thread_id: Type.Optional(Type.String()) }, { additionalProperties: true })),
      },
    },
    async (req) => {
      const { receiptType, eventId } = req.params as { receiptType: string; eventId: string };
      const threadId = (req.body as { thread_id?: string } | undefined)?.thread_id;
      if (receiptType === 'm.fully_read') {
        await setFullyRead(req.requester.userId, roomIdOf(req), eventId);
        return {};
      }
      // "main" is kept as such: it reads the main timeline only (spec: threaded read receipts; read-positions.ts).
      await services.receipts.send(req.requester.userId, roomIdOf(req), receiptType, eventId, threadId);
      return {};
    },
  );

  /** `POST /_matrix/client/v3/rooms/{roomId}/read_markers` — fully-read marker plus optional receipts. */
  clientRoute(
    app,
    'POST',
    '/_matrix/client/v3/rooms/:roomId/read_markers',
    {
      schema: {
        params: Type.Object({ roomId: Type.String() }),
        body: Type.Object({
          'm.fully_read': Type.Optional(Type.String()),
          'm.read': Type.Optional(Type.String()),
          'm.read.private': Type.Optional(Type.String()),
        }),
      },
    },
    async (req) => {
      const body = req.body as Record<string, string | undefined>;
      const roomId = roomIdOf(req);
      if (body['m.read']) await services.receipts.send(req.requester.userId, roomId, 'm.read', body['m.read']);
      if (body['m.read.private']) await services.receipts.send(req.requester.userId, roomId, 'm.read.private', body['m.read.private']);
      if (body['m.fully_read']) await setFullyRead(req.requester.userId, roomId, body['m.fully_read']);
      return {};
    },
  );

  /** The fully-read marker is room account data (`m.fully_read`), kept by the account-data service. */
  async function setFullyRead(userId: string, roomId: string, eventId: string): Promise<void> {
    const room = await services.rooms.cache.get(roomId);
    if (!room) throw MatrixError.notFound('Unknown room');
    if (room.membershipOf(userId) !== 'join') throw MatrixError.forbidden('You are not joined to this room');
    if (!services.setRoomAccountData) throw MatrixError.unrecognized('Account data is not available', 404);
    await services.setRoomAccountData(userId, roomId, 'm.fully_read', { event_id: eventId });
  }
}
