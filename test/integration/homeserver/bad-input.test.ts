import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../../homeserver/platform.js';
import { buildPlatform, call, enc, makeUser, type TestUser } from '../../helpers/platform.js';

let p: Platform;
let alice: TestUser;
let roomId: string;

beforeAll(async () => {
  p = await buildPlatform({ limits: { max_request_bytes: 70_000 } });
  alice = await makeUser(p, 'alice');
  roomId = (await call(p, alice, 'POST', '/_matrix/client/v3/createRoom', {})).body.room_id;
});
afterAll(() => p.close());

const raw = (method: 'POST' | 'PUT', url: string, payload: string, user?: TestUser, contentType = 'application/json') =>
  p.app.inject({ method, url, payload, headers: { 'content-type': contentType, ...(user?.auth ?? {}) } });

describe('bad input never produces a 500', () => {
  it('malformed JSON is M_NOT_JSON', async () => {
    const res = await raw('POST', '/_matrix/client/v3/createRoom', '{"name": ', alice);
    expect(res.statusCode).toBe(400);
    expect(res.json().errcode).toBe('M_NOT_JSON');
    const noType = await raw('POST', '/_matrix/client/v3/login', 'not json at all', undefined, 'text/plain');
    expect(noType.json().errcode).toBe('M_NOT_JSON');
  });

  it('a body without Content-Type is still parsed as JSON', async () => {
    const res = await p.app.inject({
      method: 'POST',
      url: '/_matrix/client/v3/login',
      payload: '{"type":"m.login.password","user":"alice","password":"correct horse battery"}',
      headers: {},
    });
    expect(res.statusCode).toBe(200);
  });

  it('wrong types are M_BAD_JSON, missing fields M_MISSING_PARAM', async () => {
    const wrongType = await call(p, alice, 'POST', '/_matrix/client/v3/createRoom', { name: 42 });
    expect(wrongType).toMatchObject({ status: 400, body: { errcode: 'M_BAD_JSON' } });
    const notObject = await call(p, alice, 'PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/t1`, [1, 2]);
    expect(notObject).toMatchObject({ status: 400, body: { errcode: 'M_BAD_JSON' } });
    const missing = await call(p, alice, 'POST', `/_matrix/client/v3/rooms/${enc(roomId)}/invite`, {});
    expect(missing).toMatchObject({ status: 400, body: { errcode: 'M_MISSING_PARAM' } });
    const badPreset = await call(p, alice, 'POST', '/_matrix/client/v3/createRoom', { preset: 'party' });
    expect(badPreset.status).toBe(400);
  });

  it('floats and out-of-range integers in event content are rejected (canonical JSON)', async () => {
    const float = await call(p, alice, 'PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/f1`, { body: 'x', n: 1.5 });
    expect(float).toMatchObject({ status: 400, body: { errcode: 'M_BAD_JSON' } });
    const big = await raw('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/f2`, '{"n": 9007199254740993}', alice);
    expect(big.statusCode).toBe(400);
  });

  it('oversized bodies are 413 M_TOO_LARGE; oversized events too', async () => {
    const huge = await raw(
      'PUT',
      `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/big`,
      JSON.stringify({ body: 'x'.repeat(80_000) }),
      alice,
    );
    expect(huge.statusCode).toBe(413);
    expect(huge.json().errcode).toBe('M_TOO_LARGE');
    const bigEvent = await call(p, alice, 'PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/big2`, {
      body: 'y'.repeat(66_000),
    });
    expect(bigEvent).toMatchObject({ status: 413, body: { errcode: 'M_TOO_LARGE' } });
  });

  it('unknown endpoints are 404 M_UNRECOGNIZED, wrong methods 405', async () => {
    const unknown = await call(p, alice, 'GET', '/_matrix/client/v3/no/such/endpoint');
    expect(unknown).toMatchObject({ status: 404, body: { errcode: 'M_UNRECOGNIZED' } });
    const wrongMethod = await call(p, alice, 'DELETE', '/_matrix/client/v3/createRoom');
    expect(wrongMethod).toMatchObject({ status: 405, body: { errcode: 'M_UNRECOGNIZED' } });
  });

  it('invalid ids are M_INVALID_PARAM or M_NOT_FOUND, never 500', async () => {
    for (const bad of ['not-a-room', '!nocolon', '!a:bad server', '!' + 'x'.repeat(300) + ':test.local', '!unknown:test.local']) {
      const res = await call(p, alice, 'PUT', `/_matrix/client/v3/rooms/${enc(bad)}/send/m.room.message/x`, { body: 'x' });
      expect(res.status, bad).toBeGreaterThanOrEqual(400);
      expect(res.status, bad).toBeLessThan(500);
      expect(['M_INVALID_PARAM', 'M_NOT_FOUND', 'M_FORBIDDEN']).toContain(res.body.errcode);
    }
    const badUser = await call(p, alice, 'POST', `/_matrix/client/v3/rooms/${enc(roomId)}/invite`, { user_id: 'bob' });
    expect(badUser).toMatchObject({ status: 400, body: { errcode: 'M_INVALID_PARAM' } });
    const badAlias = await call(p, alice, 'GET', `/_matrix/client/v3/directory/room/${enc('nohash')}`);
    expect(badAlias.status).toBe(400);
    const badToken = await call(p, alice, 'GET', `/_matrix/client/v3/rooms/${enc(roomId)}/messages?dir=b&from=garbage`);
    expect(badToken).toMatchObject({ status: 400, body: { errcode: 'M_INVALID_PARAM' } });
    const badDir = await call(p, alice, 'GET', `/_matrix/client/v3/rooms/${enc(roomId)}/messages?dir=sideways`);
    expect(badDir).toMatchObject({ status: 400, body: { errcode: 'M_INVALID_PARAM' } });
    const badFilter = await call(p, alice, 'GET', `/_matrix/client/v3/rooms/${enc(roomId)}/messages?dir=b&filter=%7Bnope`);
    expect(badFilter).toMatchObject({ status: 400, body: { errcode: 'M_INVALID_PARAM' } });
    const badEvent = await call(p, alice, 'GET', `/_matrix/client/v3/rooms/${enc(roomId)}/event/nodollar`);
    expect(badEvent.status).toBe(400);
  });

  it('rate limits login with M_LIMIT_EXCEEDED and retry_after_ms', async () => {
    const limited = await buildPlatform({
      limits: {
        rate_limits: { login: { per_second: 0.1, burst: 2 }, register: { per_second: 1, burst: 100 }, send: { per_second: 1, burst: 3 } },
      },
    });
    try {
      const attempt = () =>
        call(limited, undefined, 'POST', '/_matrix/client/v3/login', { type: 'm.login.password', user: 'x', password: 'password123' });
      await attempt();
      await attempt();
      const third = await attempt();
      expect(third.status).toBe(429);
      expect(third.body.errcode).toBe('M_LIMIT_EXCEEDED');
      expect(third.body.retry_after_ms).toBeGreaterThan(0);
      const u = await makeUser(limited, 'sender');
      const room = (await call(limited, u, 'POST', '/_matrix/client/v3/createRoom', {})).body.room_id;
      const statuses = [];
      for (let i = 0; i < 5; i++)
        statuses.push(
          (await call(limited, u, 'PUT', `/_matrix/client/v3/rooms/${enc(room)}/send/m.room.message/s${i}`, { body: 'x' })).status,
        );
      expect(statuses).toContain(429);
    } finally {
      await limited.close();
    }
  });

  it('CORS preflight and headers are served', async () => {
    const res = await p.app.inject({
      method: 'OPTIONS',
      url: '/_matrix/client/v3/login',
      headers: { origin: 'http://app.example', 'access-control-request-method': 'POST' },
    });
    expect(res.statusCode).toBeLessThan(300);
    expect(res.headers['access-control-allow-origin']).toBe('*');
    const get = await p.app.inject({ method: 'GET', url: '/_matrix/client/versions', headers: { origin: 'http://app.example' } });
    expect(get.headers['access-control-allow-origin']).toBe('*');
  });
});
