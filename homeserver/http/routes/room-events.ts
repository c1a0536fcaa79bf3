import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { MatrixError } from '../../matrix/errors.js';
import { clientRoute } from './client-route.js';
import { roomIdOf } from './rooms.js';
import { isRateLimited } from '../auth.js';
import type { Requester } from '../../services/requester.js';

const Content = Type.Object({}, { additionalProperties: true });
const EventType = Type.String({ minLength: 1, maxLength: 255 });
/** `ts`: an appservice's timestamp override (spec: "Timestamp massaging"); ignored for everyone else. */
const TsQuery = Type.Object({ ts: Type.Optional(Type.Integer({ minimum: 0 })) });
const tsOf = (requester: Requester, query: unknown): number | undefined =>
  requester.appserviceId ? (query as { ts?: number } | undefined)?.ts : undefined;

export async function roomEventRoutes(app: FastifyInstance): Promise<void> {
  const { rooms } = app.services;

  /** `PUT /_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}` — idempotent per device and txnId. */
  clientRoute(
    app,
    'PUT',
    '/_matrix/client/v3/rooms/:roomId/send/:eventType/:txnId',
    {
      schema: {
        params: Type.Object({ roomId: Type.String(), eventType: EventType, txnId: Type.String({ minLength: 1, maxLength: 255 }) }),
        body: Content,
        querystring: TsQuery,
      },
    },
    async (req) => {
      const { eventType, txnId } = req.params as { eventType: string; txnId: string };
      if (isRateLimited(app.services, req.requester)) app.limiter.take('send', req.requester.userId);
      const eventId = await rooms.messaging.send(
        req.requester,
        roomIdOf(req),
        eventType,
        req.body as Record<string, unknown>,
        txnId,
        tsOf(req.requester, req.query),
      );
      return { event_id: eventId };
    },
  );

  const stateParams = Type.Object({ roomId: Type.String(), eventType: EventType, stateKey: Type.Optional(Type.String()) });
  // The state key is optional in the path: `/state/{type}`, `/state/{type}/` and `/state/{type}/{key}`.
  for (const suffix of ['', '/', '/:stateKey']) {
    const path = `/_matrix/client/v3/rooms/:roomId/state/:eventType${suffix}`;

    /** `PUT /_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey}` */
    clientRoute(app, 'PUT', path, { schema: { params: stateParams, body: Content, querystring: TsQuery } }, async (req) => {
      const { eventType, stateKey } = req.params as { eventType: string; stateKey?: string };
      const eventId = await rooms.messaging.setState(
        req.requester,
        roomIdOf(req),
        eventType,
        stateKey ?? '',
        req.body as Record<string, unknown>,
        tsOf(req.requester, req.query),
      );
      return { event_id: eventId };
    });

    /** `GET /_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey}` — content only, or the event with ?format=event. */
    clientRoute(
      app,
      'GET',
      path,
      {
        schema: {
          params: stateParams,
          querystring: Type.Object({ format: Type.Optional(Type.Union([Type.Literal('content'), Type.Literal('event')])) }),
        },
      },
      async (req) => {
        const { eventType, stateKey } = req.params as { eventType: string; stateKey?: string };
        const event = await rooms.reads.stateEvent(req.requester, roomIdOf(req), eventType, stateKey ?? '');
        return (req.query as { format?: string }).format === 'event' ? event : event.content;
      },
    );
  }

  /** `GET /_matrix/client/v3/rooms/{roomId}/state` */
  clientRoute(
    app,
    'GET',
    '/_matrix/client/v3/rooms/:roomId/state',
    { schema: { params: Type.Object({ roomId: Type.String() }) } },
    async (req) => rooms.reads.state(req.requester, roomIdOf(req)),
  );

  /** `PUT /_matrix/client/v3/rooms/{roomId}/redact/{eventId}/{txnId}` */
  clientRoute(
    app,
    'PUT',
    '/_matrix/client/v3/rooms/:roomId/redact/:eventId/:txnId',
    {
      schema: {
        params: Type.Object({ roomId: Type.String(), eventId: Type.String(), txnId: Type.String({ minLength: 1, maxLength: 255 }) }),
        body: Type.Optional(Type.Object({ reason: Type.Optional(Type.String({ maxLength: 1024 })) }, { additionalProperties: true })),
      },
    },
    async (req) => {
      const { eventId, txnId } = req.params as { eventId: string; txnId: string };
      if (isRateLimited(app.services, req.requester)) app.limiter.take('send', req.requester.userId);
      const reason = (req.body as { reason?: string } | undefined)?.reason;
      return { event_id: await rooms.messaging.redact(req.requester, roomIdOf(req), eventId, reason, txnId) };
    },
  );

  /** `GET /_matrix/client/v3/rooms/{roomId}/event/{eventId}` */
  clientRoute(
    app,
    'GET',
    '/_matrix/client/v3/rooms/:roomId/event/:eventId',
    { schema: { params: Type.Object({ roomId: Type.String(), eventId: Type.String() }) } },
    async (req) => {
      const { eventId } = req.params as { eventId: string };
      if (!eventId.startsWith('$')) throw MatrixError.invalidParam('Invalid event ID');
      return rooms.reads.event(req.requester, roomIdOf(req), eventId);
    },
  );
}
