import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import { MatrixError } from '../../matrix/errors.js';
import type { ReportListQuery } from '../../services/reports/content-reports.js';
import { clientRoute } from './client-route.js';

const ListQuery = Type.Object({
  from: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, default: 0 }),
  limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
  dir: Type.Union([Type.Literal('f'), Type.Literal('b')], { default: 'b' }),
  user_id: Type.Optional(Type.String()),
  room_id: Type.Optional(Type.String()),
});

function query(req: FastifyRequest): ReportListQuery {
  if (!req.requester.isAdmin) throw MatrixError.forbidden('You are not a server admin');
  const q = req.query as { from: number; limit: number; dir: 'f' | 'b'; user_id?: string; room_id?: string };
  return { from: q.from, limit: q.limit, dir: q.dir, userId: q.user_id, roomId: q.room_id };
}

/**
 * The server admins' view of content reports, shaped as Synapse's admin API
 * (`/_synapse/admin/v1/event_reports`): offset pagination with `from`/`limit`, `dir` b (newest
 * first, the default) or f, filters `user_id` (the reporter) and `room_id`; the answer carries
 * `total` and, when more follow, `next_token` (the next `from`). Server admins only (403).
 */
export async function reportAdminRoutes(app: FastifyInstance): Promise<void> {
  const { services } = app;

  /** `GET /_causeway/admin/v1/event_reports` */
  clientRoute(app, 'GET', '/_causeway/admin/v1/event_reports', { schema: { querystring: ListQuery } }, async (req) => {
    const { reports, ...page } = await services.reports.list('event', query(req));
    return { event_reports: reports, ...page };
  });

  /** `GET /_causeway/admin/v1/room_reports` */
  clientRoute(app, 'GET', '/_causeway/admin/v1/room_reports', { schema: { querystring: ListQuery } }, async (req) => {
    const { reports, ...page } = await services.reports.list('room', query(req));
    return { room_reports: reports, ...page };
  });
}
