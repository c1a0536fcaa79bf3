import type { TSchema } from '@sinclair/typebox';
import type { RouteSpec } from './route-table.js';
import { plainSchema } from './schemas.js';

type AnySpec = RouteSpec<TSchema | undefined, TSchema | undefined, TSchema | undefined>;

/** Path and query parameters from a TypeBox object schema. */
function parameters(where: 'path' | 'query', schema: TSchema | undefined): Record<string, unknown>[] {
  if (!schema) return [];
  const plain = plainSchema(schema) as { properties?: Record<string, Record<string, unknown>>; required?: string[] };
  return Object.entries(plain.properties ?? {}).map(([name, prop]) => {
    const { description, ...rest } = prop;
    return {
      name,
      in: where,
      required: where === 'path' || (plain.required ?? []).includes(name),
      ...(description ? { description } : {}),
      schema: rest,
    };
  });
}

/**
 * The OpenAPI 3.1 description of the routes registered in the plugin, generated from their
 * TypeBox schemas (OpenAPI 3.1 schemas are JSON Schema 2020-12, which TypeBox emits).
 */
export function buildOpenApi(specs: readonly AnySpec[], prefix: string, title: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const spec of specs) {
    const path = `${prefix}${spec.url}`.replace(/:([A-Za-z_]+)/g, '{$1}');
    const responses: Record<string, unknown> = {};
    for (const [status, doc] of Object.entries(spec.responses)) {
      responses[status] = {
        description: doc.description,
        ...(doc.schema ? { content: { 'application/json': { schema: plainSchema(doc.schema) } } } : {}),
      };
    }
    (paths[path] ??= {})[spec.method.toLowerCase()] = {
      operationId: spec.operationId,
      summary: spec.summary,
      ...(spec.description ? { description: spec.description } : {}),
      tags: spec.tags,
      parameters: [...parameters('path', spec.params), ...parameters('query', spec.querystring)],
      ...(spec.body ? { requestBody: { required: true, content: { 'application/json': { schema: plainSchema(spec.body) } } } } : {}),
      responses,
      security: spec.auth === false ? [] : [{ provisioning_auth: [] }],
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title,
      version: 'v3',
      description:
        'Provisioning API of a Causeway bridge, compatible with the mautrix bridgev2 v3 provisioning API. ' +
        'Any worker of a cluster answers any request: login steps reach the worker holding the process through the bridge.',
    },
    paths,
    components: {
      securitySchemes: {
        provisioning_auth: {
          type: 'http',
          scheme: 'bearer',
          description: 'The shared secret (then ?user_id= names the user acted for) or the user’s own Matrix access token.',
        },
      },
    },
  };
}
