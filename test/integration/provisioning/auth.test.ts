import { Writable } from 'node:stream';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { Db } from '../../../homeserver/storage/db.js';
import { PREFIX, SECRET, phoneLogin, provisioningDb, provisioningFixture, type FixtureOptions } from './fixture.js';

let db: Db & { schema: string };
beforeAll(async () => {
  db = await provisioningDb();
});
afterAll(async () => {
  await db.close();
});

async function fixture(opts: FixtureOptions = {}) {
  const f = await provisioningFixture(db, opts);
  onTestFinished(() => f.close());
  return f;
}

describe('shared secret', () => {
  it('refuses a missing or wrong token', async () => {
    const f = await fixture();
    const none = await f.raw({ method: 'GET', url: `${PREFIX}/logins?user_id=%40alice%3Atest` });
    expect(none).toEqual({ status: 401, body: { errcode: 'M_MISSING_TOKEN', error: 'Missing auth token' } });
    const notBearer = await f.raw({ method: 'GET', url: `${PREFIX}/logins`, headers: { authorization: `Basic ${SECRET}` } });
    expect(notBearer.body.errcode).toBe('M_MISSING_TOKEN');
    const wrong = await f.token(`${SECRET}x`, '@alice:test').get('/logins');
    expect(wrong).toEqual({ status: 401, body: { errcode: 'M_UNKNOWN_TOKEN', error: 'Invalid auth token' } });
    // Auth comes before validation and routing details: a step on nothing still says 401.
    expect((await f.token('nope').post('/login/step/x/y/user_input', 'not an object')).status).toBe(401);
  });

  it('acts for the user named by user_id, and needs one', async () => {
    const f = await fixture();
    f.net.addUser({ name: 'A', phone: '+15550100' });
    const loginId = await phoneLogin(f, f.admin('@alice:test'), '+15550100');
    expect((await f.admin('@alice:test').get('/logins')).body.login_ids).toEqual([loginId]);
    expect((await f.admin('@bob:test').get('/logins')).body.login_ids).toEqual([]);

    const noUser = await f.token(SECRET).get('/logins');
    expect(noUser).toEqual({ status: 400, body: { errcode: 'M_MISSING_PARAM', error: 'user_id is required with the shared secret' } });
    const badUser = await f.token(SECRET, 'alice').get('/logins');
    expect(badUser.status).toBe(400);
    expect(badUser.body.errcode).toBe('M_INVALID_PARAM');
  });

  it('treats a secret shorter than 16 characters as disabled', async () => {
    const f = await fixture({ deps: { sharedSecret: 'short' } });
    const res = await f.token('short', '@alice:test').get('/logins');
    expect(res.status).toBe(401);
    expect(res.body.errcode).toBe('M_UNKNOWN_TOKEN');
  });
});

describe('access tokens', () => {
  it("acts as the token's owner; user_id may repeat it but not name someone else", async () => {
    const f = await fixture();
    f.tokens.set('alice-token', '@alice:test');
    const start = await f.token('alice-token').post('/login/start/phone');
    expect(start.status).toBe(200);
    // The process belongs to the token's owner: the admin acting for alice sees it, bob does not.
    const id = start.body.login_id;
    expect((await f.admin('@alice:test').post(`/login/step/${id}/fakenet.phone/user_input`, { phone_number: '+15550101' })).status).toBe(
      200,
    );
    expect((await f.token('alice-token', '@alice:test').get('/logins')).status).toBe(200);

    const other = await f.token('alice-token', '@bob:test').get('/logins');
    expect(other).toEqual({ status: 403, body: { errcode: 'M_FORBIDDEN', error: 'user_id does not match the access token' } });
    expect((await f.token('unknown-token').get('/logins')).body.errcode).toBe('M_UNKNOWN_TOKEN');
  });

  it('accepts only the shared secret when no verifier is injected', async () => {
    const f = await fixture({ deps: { verifyAccessToken: undefined } });
    f.tokens.set('alice-token', '@alice:test');
    expect((await f.token('alice-token').get('/logins')).status).toBe(401);
    expect((await f.admin('@alice:test').get('/logins')).status).toBe(200);
  });

  it('refuses users the bridge does not allow with 403', async () => {
    const f = await fixture({ deps: { isAllowed: (u) => u.endsWith(':test') } });
    expect((await f.admin('@eve:elsewhere').get('/login/flows')).body).toEqual({
      errcode: 'M_FORBIDDEN',
      error: 'User does not have login permissions',
    });
    expect((await f.admin('@alice:test').get('/login/flows')).status).toBe(200);
  });
});

describe('routing', () => {
  it('answers unknown paths with 404 and wrong methods with 405, both M_UNRECOGNIZED', async () => {
    const f = await fixture();
    const unknown = await f.admin('@alice:test').get('/nothing-here');
    expect(unknown).toEqual({ status: 404, body: { errcode: 'M_UNRECOGNIZED', error: 'Unrecognized endpoint' } });
    const wrongMethod = await f.admin('@alice:test').get('/login/start/phone');
    expect(wrongMethod).toEqual({ status: 405, body: { errcode: 'M_UNRECOGNIZED', error: 'Invalid method for endpoint' } });
  });

  it('serves openapi.json without auth', async () => {
    const f = await fixture();
    expect((await f.raw({ method: 'GET', url: `${PREFIX}/openapi.json` })).status).toBe(200);
  });
});

it('never logs the shared secret or an access token', async () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const app = Fastify({ loggerInstance: pino({ level: 'trace' }, sink) as FastifyBaseLogger });
  const known = new Map([['alice-secret-token-xyz', '@alice:test']]);
  const f = await provisioningFixture(db, {
    app,
    deps: {
      verifyAccessToken: async (token) => {
        if (token === 'crash-token-qwe') throw new Error('homeserver unreachable');
        return known.get(token);
      },
    },
  });
  onTestFinished(async () => {
    await f.close();
    await app.close();
  });
  await f.admin('@alice:test').get('/logins');
  await f.token('alice-secret-token-xyz').post('/login/start/phone');
  await f.token('wrong-secret-token-abc').get('/whoami');
  // A failure is logged in full (for the operator), still without the credentials.
  expect((await f.token('crash-token-qwe').get('/logins')).status).toBe(500);
  const log = lines.join('');
  expect(log).toContain('homeserver unreachable');
  for (const secret of [SECRET, 'alice-secret-token-xyz', 'wrong-secret-token-abc', 'crash-token-qwe']) expect(log).not.toContain(secret);
});
