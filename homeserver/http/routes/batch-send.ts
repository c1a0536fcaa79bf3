import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { clientRoute } from './client-route.js';
import { roomIdOf } from './rooms.js';

/** Beeper's history-import endpoint (mautrix bridges: `BeeperBatchSend`); advertised in /versions. */
export const BATCH_SEND_FEATURE = 'com.beeper.batch_sending';

export async function batchSendRoutes(app: FastifyInstance): Promise<void> {
  const { rooms } = app.services;

  /**
   * `POST /_matrix/client/unstable/com.beeper.backfill/rooms/{roomId}/batch_send` — appservices only.
   * The body is validated by the service, so every field error is an M_BAD_JSON/M_INVALID_PARAM
   * that names the event index.
   */
  clientRoute(
    app,
    'POST',
    '/_matrix/client/unstable/com.beeper.backfill/rooms/:roomId/batch_send',
    { schema: { params: Type.Object({ roomId: Type.String() }) } },
    async (req) => rooms.batchSend.send(req.requester, roomIdOf(req), req.body),
  );
}
