import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { dereferenceSpecFile } from '../../helpers/openapi/deref.mjs';
import { HTTP_METHODS, scanApiText } from '../../helpers/openapi/route-index.js';
import { MATRIX_STRING_FORMATS, toAjvSchema } from '../../helpers/openapi/schema.js';
import { SpecResponseError, specValidator } from '../../helpers/openapi/spec-validator.js';
import { SyncDereferencer } from '../../helpers/openapi/sync-deref.js';

const SPEC_ROOT = fileURLToPath(new URL('../../matrix-spec/', import.meta.url));
const spec = await specValidator();

/** The message of the error thrown by `fn` (fails the test if nothing is thrown). */
function thrownMessage(fn: () => void): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SpecResponseError);
    return (e as Error).message;
  }
  expect.fail('expected an error to be thrown');
}

const clientEvent = (over: Record<string, unknown> = {}) => ({
  event_id: '$ev1',
  type: 'm.room.message',
  sender: '@alice:test',
  origin_server_ts: 1_700_000_000_000,
  content: { msgtype: 'm.text', body: 'hi' },
  unsigned: { age: 5 },
  ...over,
});

describe('specValidator()', () => {
  it('is cached per process', async () => {
    expect(await specValidator()).toBe(spec);
  });

  it('reports dereferencing failures from the worker instead of hanging', async () => {
    const deref = new SyncDereferencer(20_000);
    try {
      expect(() => deref.dereference(join(SPEC_ROOT, 'api/client-server/no-such-file.yaml'))).toThrow(
        /could not dereference .*no-such-file\.yaml/,
      );
      expect(deref.dereference(join(SPEC_ROOT, 'api/client-server/versions.yaml')).openapi).toBe('3.1.0');
    } finally {
      await deref.close();
    }
  });

  it('indexes every API directory', () => {
    const files = new Set(spec.operations().map((o) => o.file.split('/')[1]));
    expect([...files].sort()).toEqual(['application-service', 'client-server', 'identity', 'push-gateway', 'server-server']);
  });
});

describe('response validation', () => {
  it('accepts a correct /versions body', () => {
    const body = { versions: ['r0.6.1', 'v1.1', 'v1.11'], unstable_features: { 'org.example.feature': true } };
    expect(() => spec.assertResponse('GET', '/_matrix/client/versions', 200, body)).not.toThrow();
    expect(spec.validateResponse('GET', '/_matrix/client/versions', 200, body)).toMatchObject({
      ok: true,
      bodyChecked: true,
      responseKey: '200',
    });
  });

  it('rejects a /versions body without `versions`, naming the operation', () => {
    const msg = thrownMessage(() => spec.assertResponse('GET', '/_matrix/client/versions', 200, { unstable_features: {} }));
    expect(msg).toContain('getVersions');
    expect(msg).toContain("must have required property 'versions'");
    expect(msg).toContain('api/client-server/versions.yaml');
    expect(msg).toContain('"unstable_features":{}'); // body preview
  });

  it('accepts and rejects /login flows bodies', () => {
    const good = { flows: [{ type: 'm.login.password' }, { type: 'm.login.token', get_login_token: true }] };
    spec.assertResponse('GET', '/_matrix/client/v3/login', 200, good);
    const bad = spec.validateResponse('GET', '/_matrix/client/v3/login', 200, { flows: [{ stages: ['m.login.password'] }] });
    expect(bad).toMatchObject({ ok: false, kind: 'body-mismatch', operation: { operationId: 'getLoginFlows' } });
    expect(bad.ok ? [] : bad.errors).toContain("/flows/0 must have required property 'type'");
    expect(() => spec.assertResponse('GET', '/_matrix/client/v3/login', 200, { flows: 'm.login.password' })).toThrow(
      /\/flows must be array/,
    );
  });

  it('maps r0 paths onto the v3 definitions', () => {
    expect(spec.findOperation('GET', '/_matrix/client/r0/login')).toMatchObject({
      operationId: 'getLoginFlows',
      pathTemplate: '/_matrix/client/v3/login',
    });
    spec.assertResponse('GET', '/_matrix/client/r0/login', 200, { flows: [{ type: 'm.login.password' }] });
    expect(spec.findOperation('POST', '/_matrix/media/r0/upload')?.operationId).toBe('uploadContent');
  });

  it('compiles the big /sync schema and validates a realistic body', () => {
    const body = {
      next_batch: 's72595_4483_1934',
      account_data: { events: [{ type: 'm.push_rules', content: {} }] },
      presence: { events: [] },
      rooms: {
        join: {
          '!r:test': {
            summary: { 'm.heroes': ['@bob:test'], 'm.joined_member_count': 2, 'm.invited_member_count': 0 },
            state: { events: [] },
            timeline: { events: [clientEvent()], limited: false, prev_batch: 't34-23535_0_0' },
            ephemeral: { events: [] },
            account_data: { events: [] },
            unread_notifications: { highlight_count: 0, notification_count: 1 },
          },
        },
        invite: {},
        leave: {},
      },
    };
    spec.assertResponse('GET', '/_matrix/client/v3/sync?since=s1&timeout=0', 200, body);

    const broken = structuredClone(body);
    delete (broken.rooms.join['!r:test'].timeline.events[0] as Partial<ReturnType<typeof clientEvent>>).event_id;
    broken.next_batch = 5 as unknown as string;
    const msg = thrownMessage(() => spec.assertResponse('GET', '/_matrix/client/v3/sync', 200, broken));
    expect(msg).toContain('/next_batch must be string');
    expect(msg).toContain("/rooms/join/!r:test/timeline/events/0 must have required property 'event_id'");
  });

  it('checks Matrix string formats (mx-user-id)', () => {
    spec.assertResponse('GET', '/_matrix/client/v3/account/whoami', 200, { user_id: '@alice:test', device_id: 'DEV' });
    expect(() => spec.assertResponse('GET', '/_matrix/client/v3/account/whoami', 200, { user_id: '@alice' })).toThrow(
      /must match format "mx-user-id"/,
    );
  });

  it('fails an undocumented status with a readable message', () => {
    const msg = thrownMessage(() => spec.assertResponse('GET', '/_matrix/client/versions', 418, {}));
    expect(msg).toContain('HTTP 418 is not a documented response');
    expect(msg).toContain('getVersions');
    expect(msg).toMatch(/documented statuses: 200\b/);
    expect(spec.validateResponse('GET', '/_matrix/client/versions', 418, {})).toMatchObject({ ok: false, kind: 'undocumented-status' });
  });

  it('validates documented error responses against the standard error schema', () => {
    spec.assertResponse('POST', '/_matrix/client/v3/createRoom', 400, { errcode: 'M_ROOM_IN_USE', error: 'taken' });
    // a documented error status without a schema: only the status is checked
    expect(spec.validateResponse('GET', '/_matrix/client/v3/rooms/!r:x/messages?dir=b', 403, { errcode: 'M_FORBIDDEN' })).toMatchObject({
      ok: true,
      bodyChecked: false,
    });
    expect(() => spec.assertResponse('POST', '/_matrix/client/v3/createRoom', 400, { error: 'no errcode' })).toThrow(
      /required property 'errcode'/,
    );
  });

  it('fails an unknown path readably, pointing at close templates', () => {
    const msg = thrownMessage(() => spec.assertResponse('GET', '/_matrix/client/v3/rooms/!r:x/no_such_thing', 200, {}));
    expect(msg).toContain('No operation of the Matrix spec matches GET /_matrix/client/v3/rooms/!r:x/no_such_thing');
    expect(msg).toContain('closest path templates');
    expect(msg).toContain('/_matrix/client/v3/rooms/{roomId}/');
    expect(spec.findOperation('GET', '/_matrix/client/v3/no/such/endpoint')).toBeUndefined();
  });

  it('fails a method the path does not document, listing the documented ones', () => {
    const msg = thrownMessage(() => spec.assertResponse('DELETE', '/_matrix/client/v3/sync', 200, {}));
    expect(msg).toContain('/_matrix/client/v3/sync documents only: GET (sync)');
  });

  it('only asserts the status when the response has no JSON schema', () => {
    // 302 redirect, no content at all
    expect(spec.validateResponse('GET', '/_matrix/client/v3/login/sso/redirect?redirectUrl=x', 302, undefined)).toMatchObject({
      ok: true,
      bodyChecked: false,
    });
    // media download: binary content types only
    expect(spec.validateResponse('GET', '/_matrix/client/v1/media/download/test/abc', 200, 'binary')).toMatchObject({
      ok: true,
      bodyChecked: false,
    });
  });

  it('accepts a response matching either of two operations documented on the same path', () => {
    const op = spec.findOperation('POST', '/_matrix/client/v3/rooms/!r:x/invite');
    expect(op).toMatchObject({ operationId: 'inviteUser', alternatives: [{ operationId: 'inviteBy3PID' }] });
    spec.assertResponse('POST', '/_matrix/client/v3/rooms/!r:x/invite', 200, {});
  });
});

describe('findOperation', () => {
  it('matches a send URL to the send operation', () => {
    expect(spec.findOperation('PUT', '/_matrix/client/v3/rooms/!r:x/send/m.room.message/t1')).toEqual({
      operationId: 'sendMessage',
      file: 'api/client-server/room_send.yaml',
      pathTemplate: '/_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}',
      method: 'PUT',
      params: { roomId: '!r:x', eventType: 'm.room.message', txnId: 't1' },
      alternatives: [],
    });
    expect(spec.findOperation('put', '/_matrix/client/v3/rooms/!r:x/send/m.room.message/t1')?.operationId).toBe('sendMessage');
  });

  it('does not let an id-free send URL match (txnId is required)', () => {
    expect(spec.findOperation('PUT', '/_matrix/client/v3/rooms/!r:x/send/m.room.message')).toBeUndefined();
    expect(spec.findOperation('PUT', '/_matrix/client/v3/rooms/!r:x/send/m.room.message/')).toBeUndefined();
  });

  it('matches state URLs with an empty state key, with and without the trailing slash', () => {
    for (const url of ['/_matrix/client/v3/rooms/!r:x/state/m.room.name/', '/_matrix/client/v3/rooms/!r:x/state/m.room.name']) {
      expect(spec.findOperation('GET', url), url).toMatchObject({
        operationId: 'getRoomStateWithKey',
        file: 'api/client-server/rooms.yaml',
        params: { roomId: '!r:x', eventType: 'm.room.name', stateKey: '' },
      });
      expect(spec.findOperation('PUT', url)?.operationId, url).toBe('setRoomStateWithKey');
    }
    expect(spec.findOperation('GET', '/_matrix/client/v3/rooms/!r:x/state/m.room.member/@a:x')?.params.stateKey).toBe('@a:x');
    expect(spec.findOperation('GET', '/_matrix/client/v3/rooms/!r:x/state')?.operationId).toBe('getRoomState');
    spec.assertResponse('GET', '/_matrix/client/v3/rooms/!r:x/state/m.room.name/', 200, { name: 'Room' });
  });

  it('strips the query string and decodes percent-encoded segments', () => {
    expect(spec.findOperation('GET', '/_matrix/client/v3/rooms/!abc:test/messages?dir=b&limit=10')).toMatchObject({
      operationId: 'getRoomEvents',
      params: { roomId: '!abc:test' },
    });
    expect(spec.findOperation('GET', '/_matrix/client/v3/rooms/%21abc%3Atest/event/%24ev%2Fslash')).toMatchObject({
      operationId: 'getOneRoomEvent',
      params: { roomId: '!abc:test', eventId: '$ev/slash' },
    });
    expect(spec.findOperation('GET', 'http://localhost:8008/_matrix/client/v3/profile/@u:test?x=1')).toMatchObject({
      operationId: 'getUserProfile',
      params: { userId: '@u:test' },
    });
  });

  it('treats `#` as part of a room alias, raw or encoded', () => {
    for (const url of ['/_matrix/client/v3/directory/room/#a:x', '/_matrix/client/v3/directory/room/%23a%3Ax']) {
      expect(spec.findOperation('GET', url), url).toMatchObject({ operationId: 'getRoomIdByAlias', params: { roomAlias: '#a:x' } });
    }
  });

  it('prefers literal segments over parameters', () => {
    expect(spec.findOperation('GET', '/_matrix/federation/v1/query/directory?room_alias=%23a:x')?.operationId).toBe('queryRoomDirectory');
    expect(spec.findOperation('GET', '/_matrix/federation/v1/query/profile')?.operationId).toBe('queryProfile');
    expect(spec.findOperation('GET', '/_matrix/federation/v1/query/other')).toMatchObject({
      operationId: 'queryInfo',
      params: { queryType: 'other' },
    });
  });

  it('maps base paths other than /_matrix/client/v3', () => {
    expect(spec.findOperation('POST', '/_matrix/media/v3/upload')?.file).toBe('api/client-server/content-repo.yaml');
    expect(spec.findOperation('GET', '/_matrix/key/v2/server')?.file).toBe('api/server-server/keys_server.yaml');
    expect(spec.findOperation('PUT', '/_matrix/app/v1/transactions/t1')?.operationId).toBe('sendTransaction');
    expect(spec.findOperation('GET', '/_matrix/client/v1/rooms/!r:x/relations/$e')?.file).toBe('api/client-server/relations.yaml');
    expect(spec.findOperation('GET', '/.well-known/matrix/client')?.operationId).toBe('getWellknown');
    expect(spec.findOperation('GET', '/_matrix/client/v3/admin/whois/@u:x')?.operationId).toBe('getWhoIs');
  });
});

describe('schema conversion', () => {
  it('drops annotations and extensions but keeps same-named properties', () => {
    const converted = toAjvSchema({
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'object',
      'x-addedInMatrixVersion': '1.1',
      example: { format: 'x' },
      examples: { a: 1 },
      required: ['format'],
      properties: {
        format: { type: 'string', example: 'org.matrix.custom.html' },
        example: { type: 'integer', 'x-weight': 1 },
        'x-custom': { type: 'boolean' },
      },
      patternProperties: { '^@': { 'x-pattern-format': 'mx-user-id', type: 'string' } },
    });
    expect(converted).toEqual({
      type: 'object',
      required: ['format'],
      properties: { format: { type: 'string' }, example: { type: 'integer' }, 'x-custom': { type: 'boolean' } },
      patternProperties: { '^@': { type: 'string' } },
    });
  });

  it('converts OpenAPI 3.0 `nullable`', () => {
    expect(toAjvSchema({ type: 'string', nullable: true })).toEqual({ type: ['string', 'null'] });
    expect(toAjvSchema({ type: 'string', enum: ['a'], nullable: true })).toEqual({ type: ['string', 'null'], enum: ['a', null] });
    expect(toAjvSchema({ allOf: [{ type: 'object' }], nullable: true })).toEqual({
      anyOf: [{ allOf: [{ type: 'object' }] }, { type: 'null' }],
    });
  });

  it('keeps shared sub-schemas shared and cuts cycles', () => {
    const shared = { type: 'string', example: 'x' };
    const cyclic: Record<string, unknown> = { type: 'object' };
    cyclic.properties = { self: cyclic, a: shared, b: shared };
    const out = toAjvSchema(cyclic) as { properties: Record<string, unknown> };
    expect(out.properties.a).toBe(out.properties.b);
    expect(out.properties.self).toBe(true);
  });

  it('implements every custom format of string-formats.yaml', () => {
    const declared = Object.keys(YAML.parse(readFileSync(join(SPEC_ROOT, 'string-formats.yaml'), 'utf8')) as object);
    const standard = ['uri', 'email']; // ajv-formats
    expect(declared.filter((f) => !standard.includes(f)).sort()).toEqual(Object.keys(MATRIX_STRING_FORMATS).sort());
    const f = MATRIX_STRING_FORMATS;
    expect(['@a:b', '@a:b.c:8448'].every((s) => f['mx-user-id']!.test(s))).toBe(true);
    expect(['a', '@a', '@:b', '#a:b'].some((s) => f['mx-user-id']!.test(s))).toBe(false);
    expect(['!abc:x', '!AbCd123'].every((s) => f['mx-room-id']!.test(s))).toBe(true);
    expect(['$abc', '$a:x'].every((s) => f['mx-event-id']!.test(s))).toBe(true);
    expect(['test', 'localhost:8448', '1.2.3.4', '[::1]:80'].every((s) => f['mx-server-name']!.test(s))).toBe(true);
    expect(['a b', 'x:y:z', ''].some((s) => f['mx-server-name']!.test(s))).toBe(false);
    expect(f['mx-mxc-uri']!.test('mxc://test/AbC123')).toBe(true);
    expect(f['mx-mxc-uri']!.test('https://test/AbC123')).toBe(false);
    expect(f['mx-unpadded-base64']!.test('YWJj')).toBe(true);
    expect(f['mx-unpadded-base64']!.test('YQ==')).toBe(false);
  });
});

describe('spec files', () => {
  const apiFiles = readdirSync(join(SPEC_ROOT, 'api')).flatMap((dir) =>
    readdirSync(join(SPEC_ROOT, 'api', dir))
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => `${dir}/${f}`),
  );
  const clientServer = apiFiles.filter((f) => f.startsWith('client-server/'));

  it('finds the client-server files', () => {
    expect(clientServer.length).toBeGreaterThan(60);
  });

  it.each(clientServer)('%s loads and dereferences', async (file) => {
    const doc = await dereferenceSpecFile(join(SPEC_ROOT, 'api', file));
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths as object).length).toBeGreaterThan(0);
    // every $ref resolved (JSON.stringify would throw on a cycle, and the spec has none)
    expect(JSON.stringify(doc)).not.toContain('"$ref"');
  });

  it('the line scanner agrees with a YAML parse of every API file', () => {
    for (const file of apiFiles) {
      const text = readFileSync(join(SPEC_ROOT, 'api', file), 'utf8');
      const parsed = YAML.parse(text) as {
        paths: Record<string, Record<string, { operationId?: string }>>;
        servers: { variables: { basePath: { default: string } } }[];
      };
      const expected = Object.entries(parsed.paths).flatMap(([rawPath, item]) =>
        Object.entries(item)
          .filter(([m]) => (HTTP_METHODS as readonly string[]).includes(m))
          .map(([method, op]) => ({ method, rawPath, operationId: op.operationId })),
      );
      const scanned = scanApiText(text);
      expect(scanned.operations, file).toEqual(expected);
      expect(scanned.basePath, file).toBe(parsed.servers[0]!.variables.basePath.default);
    }
  });

  it('every documented response schema of every operation compiles', () => {
    let compiled = 0;
    for (const op of spec.operations()) {
      for (const status of spec.documentedStatuses(op.method, op.pathTemplate)) {
        // throws (rather than returning a result) if a schema cannot be compiled
        spec.validateResponse(op.method, op.pathTemplate, status, {});
        compiled++;
      }
    }
    expect(compiled).toBeGreaterThan(500);
  }, 60_000);
});
