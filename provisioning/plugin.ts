import { Ajv } from 'ajv';
import type { FastifyInstance } from 'fastify';
import { authenticator } from './auth.js';
import type { ProvisioningDeps } from './deps.js';
import { installErrorHandling } from './errors.js';
import { buildOpenApi } from './openapi.js';
import { serveForwardedCalls } from './call-forwarding.js';
import { RouteTable } from './route-table.js';
import { accountRoutes } from './routes/account-routes.js';
import { contactRoutes } from './routes/contact-routes.js';
import { loginRoutes } from './routes/login-routes.js';

/** Where mautrix serves the v3 provisioning API. */
export const PROVISIONING_PREFIX = '/_matrix/provision/v3';

export interface ProvisioningPluginOptions {
  deps: ProvisioningDeps;
}

// Bodies are checked strictly (no coercion, nothing removed); path and query values are strings.
const bodyAjv = new Ajv({ removeAdditional: false, useDefaults: false, coerceTypes: false, allErrors: false, strict: false });
const paramAjv = new Ajv({ removeAdditional: false, useDefaults: true, coerceTypes: 'array', allErrors: false, strict: false });

/**
 * The provisioning API as an encapsulated Fastify plugin: its body parser, validator, error and
 * not-found handlers apply under its prefix only, so it behaves the same on a bare Fastify
 * instance and inside the platform's app. Register it with a prefix (see registerProvisioning).
 */
export async function provisioningPlugin(app: FastifyInstance, opts: ProvisioningPluginOptions): Promise<void> {
  const { deps } = opts;
  if (deps.logins.bridgeId !== deps.bridgeId)
    throw new Error(`provisioning: logins store is for ${deps.logins.bridgeId}, not ${deps.bridgeId}`);

  // Like the homeserver: any content type is read as JSON, and an empty body is no body
  // (display_and_wait and cancel are often POSTed without one).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
    const text = body as string;
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      done(new SyntaxError('Content not JSON.'), undefined);
    }
  });
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? bodyAjv : paramAjv).compile(schema));

  const table = new RouteTable(app, authenticator(deps));
  installErrorHandling(app, table.patterns);
  loginRoutes(table, deps);
  accountRoutes(table, deps);
  contactRoutes(table, deps);
  // Other workers' forwarded steps and login calls are answered while this API is served here,
  // and no longer once it closes (they then get the unknown-process or not-running answer at
  // once instead of waiting).
  const stopServing = serveForwardedCalls(deps, app.log);
  app.addHook('onClose', async () => stopServing());

  /** `GET /_matrix/provision/v3/openapi.json` — this API's OpenAPI 3.1 description; public. */
  let document: Record<string, unknown> | undefined;
  table.add(
    {
      method: 'GET',
      url: '/openapi.json',
      operationId: 'getOpenApi',
      summary: 'This API’s OpenAPI description',
      tags: ['meta'],
      auth: false,
      responses: { 200: { description: 'An OpenAPI 3.1 document' } },
    },
    async () => (document ??= buildOpenApi(table.specs, app.prefix, `${deps.connector.displayName} bridge provisioning`)),
  );
}

/** Mounts the provisioning API of one bridge at `/_matrix/provision/v3` (or `prefix`). */
export async function registerProvisioning(app: FastifyInstance, deps: ProvisioningDeps, prefix = PROVISIONING_PREFIX): Promise<void> {
  await app.register(provisioningPlugin, { prefix, deps });
}
