import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { clientRoute } from './client-route.js';

const NotificationsQuery = Type.Object({
  from: Type.Optional(Type.String()),
  limit: Type.Optional(Type.Integer({ minimum: 0 })),
  only: Type.Optional(Type.String()),
});

export async function notificationRoutes(app: FastifyInstance): Promise<void> {
  const { services } = app;

  /**
   * `GET /_matrix/client/v3/notifications` — events the user's push rules notified them of, newest
   * first (`from` = a previous `next_token`, `limit` ≤ 100, `only=highlight`). Computed at read
   * time; see services/notifications/notifications.ts for what that approximates.
   */
  clientRoute(app, 'GET', '/_matrix/client/v3/notifications', { schema: { querystring: NotificationsQuery } }, async (req) => {
    const q = req.query as { from?: string; limit?: number; only?: string };
    return services.notifications.list(req.requester.userId, req.requester.deviceId, q);
  });
}
