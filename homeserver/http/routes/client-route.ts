import type { FastifyInstance, FastifyReply, FastifyRequest, RouteShorthandOptions } from 'fastify';
import { requireAuth } from '../auth.js';

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';
type Handler = (req: FastifyRequest<any>, reply: FastifyReply) => Promise<unknown>;

export interface RouteOptions {
  auth?: boolean;
  schema?: RouteShorthandOptions['schema'];
  /** Also serve the legacy r0 path: Hydrogen and older bridges still call r0. */
  r0?: boolean;
}

/**
 * Registers a Client-Server endpoint given by its v3 path (`/_matrix/client/v3/...`) and, unless
 * told otherwise, the same handler at the legacy `/_matrix/client/r0/...` path.
 */
export function clientRoute(app: FastifyInstance, method: Method, v3Path: string, opts: RouteOptions, handler: Handler): void {
  const paths = [v3Path];
  if (opts.r0 !== false && v3Path.startsWith('/_matrix/client/v3/')) paths.push(v3Path.replace('/v3/', '/r0/'));
  const preHandler = opts.auth === false ? undefined : requireAuth(app.services);
  for (const url of paths) app.route({ method, url, schema: opts.schema, preHandler, handler });
}
