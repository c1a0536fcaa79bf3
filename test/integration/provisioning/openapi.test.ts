import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Db } from '../../../homeserver/storage/db.js';
import { PREFIX, provisioningDb, provisioningFixture } from './fixture.js';

let db: Db & { schema: string };
beforeAll(async () => {
  db = await provisioningDb();
});
afterAll(async () => {
  await db.close();
});

/** Every route of the plugin, as mautrix's provisioning.yaml names its paths. */
const ROUTES = [
  'get /login/flows',
  'post /login/start/{flowId}',
  'post /login/step/{processId}/{stepId}/user_input',
  'post /login/step/{processId}/{stepId}/display_and_wait',
  'post /login/cancel/{processId}',
  'post /logout/{loginId}',
  'get /logins',
  'get /whoami',
  'get /contacts',
  'get /resolve_identifier/{identifier}',
  'post /create_dm/{identifier}',
  'get /openapi.json',
];

it('serves an OpenAPI 3.1 document listing every route, with valid schemas', async () => {
  const f = await provisioningFixture(db);
  try {
    const res = await f.app.inject({ method: 'GET', url: `${PREFIX}/openapi.json` });
    expect(res.statusCode).toBe(200);
    const doc = JSON.parse(res.body);
    expect(doc.openapi).toBe('3.1.0');

    const listed = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m} ${path.slice(PREFIX.length)}`),
    );
    expect(listed.sort()).toEqual([...ROUTES].sort());

    // Every operation: unique id, path parameters declared, each schema compiles as JSON Schema 2020-12.
    const ajv = new Ajv2020({ strict: false });
    const ids = new Set<string>();
    for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
      for (const op of Object.values(ops)) {
        expect(ids.has(op.operationId)).toBe(false);
        ids.add(op.operationId);
        const declared = op.parameters.filter((p: any) => p.in === 'path').map((p: any) => p.name);
        expect(declared.sort()).toEqual([...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort());
        const schemas = [
          ...op.parameters.map((p: any) => p.schema),
          ...Object.values(op.requestBody?.content ?? {}).map((c: any) => c.schema),
          ...Object.values(op.responses).flatMap((r: any) => Object.values(r.content ?? {}).map((c: any) => c.schema)),
        ];
        for (const s of schemas) expect(() => ajv.compile(s)).not.toThrow();
        if (op.operationId !== 'getOpenApi') expect(op.security).toEqual([{ provisioning_auth: [] }]);
      }
    }
    expect(doc.components.securitySchemes.provisioning_auth).toMatchObject({ type: 'http', scheme: 'bearer' });
  } finally {
    await f.close();
  }
});
