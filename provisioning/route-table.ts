import type { Static, TSchema } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ErrorBody } from './schemas.js';

export interface ResponseDoc {
  description: string;
  schema?: TSchema;
}

/**
 * One endpoint: its inputs (validated by Fastify with these very schemas), its documented
 * responses and its OpenAPI metadata. The OpenAPI document is generated from the list of specs
 * that were actually registered, so every route is described and nothing else is.
 */
export interface RouteSpec<
  P extends TSchema | undefined = undefined,
  Q extends TSchema | undefined = undefined,
  B extends TSchema | undefined = undefined,
> {
  method: 'GET' | 'POST';
  /** Relative to the plugin prefix, in Fastify syntax (`/login/start/:flowId`). */
  url: string;
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  /** Default true: Bearer shared secret (+ user_id) or the user's access token. */
  auth?: boolean;
  params?: P;
  querystring?: Q;
  body?: B;
  responses: Record<number, ResponseDoc>;
}

type StaticOf<T> = T extends TSchema ? Static<T> : undefined;

export type RouteRequest<P, Q, B> = Omit<FastifyRequest, 'params' | 'query' | 'body'> & {
  params: StaticOf<P>;
  query: StaticOf<Q>;
  body: StaticOf<B>;
};

/** A documented error response (the shape is always ErrorBody). */
export const err = (description: string): ResponseDoc => ({ description, schema: ErrorBody });

/** The error responses every authenticated route can give. */
export const AUTH_ERRORS: Record<number, ResponseDoc> = {
  400: err('Bad request: invalid parameter or body, or user_id missing with the shared secret'),
  401: err('M_MISSING_TOKEN or M_UNKNOWN_TOKEN: no or wrong token'),
  403: err('M_FORBIDDEN: user_id is not the token’s user, or the user may not use the bridge'),
  500: err('M_UNKNOWN: an unexpected failure (details only in the server log)'),
};

/** Routes that talk to the network can also fail there. */
export const NETWORK_ERRORS: Record<number, ResponseDoc> = {
  502: err('IO.CAUSEWAY_NETWORK_ERROR: the network failed the request; `retryable` says whether trying again may work'),
};

export class RouteTable {
  readonly specs: RouteSpec<TSchema | undefined, TSchema | undefined, TSchema | undefined>[] = [];
  /** Full paths of registered routes, for telling 405 (known path) from 404. */
  readonly patterns: RegExp[] = [];

  constructor(
    private readonly app: FastifyInstance,
    private readonly authenticate: (req: FastifyRequest) => Promise<void>,
  ) {}

  add<P extends TSchema | undefined = undefined, Q extends TSchema | undefined = undefined, B extends TSchema | undefined = undefined>(
    spec: RouteSpec<P, Q, B>,
    handler: (req: RouteRequest<P, Q, B>, reply: FastifyReply) => Promise<unknown>,
  ): void {
    this.specs.push(spec);
    const full = `${this.app.prefix}${spec.url}`.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:[A-Za-z_]+/g, '[^/]+');
    this.patterns.push(new RegExp(`^${full}$`));
    const schema: Record<string, TSchema> = {};
    if (spec.params) schema.params = spec.params;
    if (spec.querystring) schema.querystring = spec.querystring;
    if (spec.body) schema.body = spec.body;
    this.app.route({
      method: spec.method,
      url: spec.url,
      schema,
      // Authentication runs before validation so an anonymous caller learns nothing about inputs.
      onRequest: spec.auth === false ? undefined : this.authenticate,
      handler: (req, reply) => handler(req as unknown as RouteRequest<P, Q, B>, reply),
    });
  }
}
