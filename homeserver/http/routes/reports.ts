import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { clientRoute } from './client-route.js';

/** Reporting content (spec: "Reporting content"); stored for the server admins (reports-admin.ts). */
export async function reportRoutes(app: FastifyInstance): Promise<void> {
  const { services } = app;

  /**
   * `POST /_matrix/client/v3/rooms/{roomId}/report/{eventId}` — `{reason?, score?}`; 404 M_NOT_FOUND
   * unless the reporter can see the event. `score` is checked as Synapse does (an integer) though
   * spec v1.18 dropped it: older clients still send it.
   */
  clientRoute(
    app,
    'POST',
    '/_matrix/client/v3/rooms/:roomId/report/:eventId',
    {
      schema: {
        params: Type.Object({ roomId: Type.String(), eventId: Type.String() }),
        body: Type.Object(
          {
            reason: Type.Optional(Type.String()),
            score: Type.Optional(Type.Integer({ minimum: Number.MIN_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER })),
          },
          { additionalProperties: true },
        ),
      },
    },
    async (req) => {
      const { roomId, eventId } = req.params as { roomId: string; eventId: string };
      await services.reports.reportEvent(req.requester, roomId, eventId, req.body as { reason?: string; score?: number });
      return {};
    },
  );

  /** `POST /_matrix/client/v3/rooms/{roomId}/report` — `{reason}` (spec v1.13); the reporter need not be in the room. */
  clientRoute(
    app,
    'POST',
    '/_matrix/client/v3/rooms/:roomId/report',
    {
      r0: false, // added in v1.13: there never was an r0 path
      schema: {
        params: Type.Object({ roomId: Type.String() }),
        body: Type.Object({ reason: Type.String() }, { additionalProperties: true }),
      },
    },
    async (req) => {
      const { roomId } = req.params as { roomId: string };
      await services.reports.reportRoom(req.requester, roomId, (req.body as { reason: string }).reason);
      return {};
    },
  );
}
