import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import cors from '@fastify/cors';
import { Ajv } from 'ajv';
import type { Services } from '../services/services.js';
import { closeConnectionsOnClose } from './connections.js';
import { installErrorHandling } from './errors.js';
import { RateLimiter } from './rate-limiter.js';
import { registerRoutes } from './routes/index.js';

declare module 'fastify' {
  interface FastifyInstance {
    services: Services;
    limiter: RateLimiter;
  }
}

/** Request bodies are checked strictly (a string is not silently turned into a number); path and
 *  query values arrive as strings and are coerced. Event content is never stripped of unknown keys. */
const bodyAjv = new Ajv({ removeAdditional: false, useDefaults: false, coerceTypes: false, allErrors: false, strict: false });
const paramAjv = new Ajv({ removeAdditional: false, useDefaults: true, coerceTypes: 'array', allErrors: false, strict: false });

/** Builds the Client-Server API application (not listening yet; tests use app.inject). */
export async function buildApp(services: Services): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: services.log.child({ component: 'http' }) as FastifyBaseLogger,
    bodyLimit: services.config.limits.max_request_bytes,
    // Request ids are generated per request and logged; clients never see internals.
    genReqId: () => Math.random().toString(36).slice(2, 12),
    // Fastify's own request logs include the URL, which may carry an access token: ours log the route.
    logController: new LogController({ disableRequestLogging: true }),
    routerOptions: { ignoreTrailingSlash: false, maxParamLength: 1000 },
  });
  app.decorate('services', services);
  app.decorate('limiter', new RateLimiter(services.config.limits.rate_limits));
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? bodyAjv : paramAjv).compile(schema));

  // Matrix clients do not always send Content-Type: application/json; parse every body as JSON.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
    const text = body as string;
    if (text === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      const err = new SyntaxError('Content not JSON.');
      done(err, undefined);
    }
  });

  // app.close() returns once the requests in progress are answered, not when clients choose to
  // drop their idle or never-used connections; past a grace period it cuts what is left.
  closeConnectionsOnClose(app);

  app.addHook('onResponse', async (req, reply) => {
    // Method, route template and status only: URLs can carry access tokens.
    req.log.info(
      { method: req.method, route: req.routeOptions.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) },
      'request',
    );
  });

  await app.register(cors, {
    origin: '*',
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS'],
    allowedHeaders: ['X-Requested-With', 'Content-Type', 'Authorization', 'Date'],
  });

  const patterns: RegExp[] = [];
  app.addHook('onRoute', (route) => {
    const source = route.url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:[A-Za-z_]+/g, '[^/]+');
    patterns.push(new RegExp(`^${source}$`));
  });
  installErrorHandling(app, patterns);
  await registerRoutes(app);
  return app;
}
