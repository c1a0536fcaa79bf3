import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import type { Platform } from '../../../homeserver/platform.js';
import { specValidator } from '../../helpers/openapi/spec-validator.js';
import { buildPlatform, call, enc, makeUser, SERVER_NAME, type TestUser } from '../../helpers/platform.js';

const spec = await specValidator();
const requestToken = (userId: string) => `/_matrix/client/v3/user/${enc(userId)}/openid/request_token`;
const userinfo = (token: string) => `/_matrix/federation/v1/openid/userinfo?access_token=${enc(token)}`;
const LIFETIME_MS = 1500;

let p: Platform;
let alice: TestUser;
let bob: TestUser;

beforeAll(async () => {
  p = await buildPlatform({ openid: { token_lifetime_ms: LIFETIME_MS } });
  alice = await makeUser(p, 'alice');
  bob = await makeUser(p, 'bob');
});
afterAll(() => p.close());

async function issue(user: TestUser) {
  const res = await call(p, user, 'POST', requestToken(user.userId), {});
  expect(res.status).toBe(200);
  spec.assertResponse('POST', requestToken(user.userId), 200, res.body);
  return res.body as { access_token: string; token_type: string; matrix_server_name: string; expires_in: number };
}

describe('POST /user/{userId}/openid/request_token', () => {
  it('issues a Bearer token for yourself, with the server name and lifetime', async () => {
    const body = await issue(alice);
    expect(body).toEqual({ access_token: expect.any(String), token_type: 'Bearer', matrix_server_name: SERVER_NAME, expires_in: 1 });
    // Not an access token: it opens nothing on the client API.
    expect(
      (await p.app.inject({ url: '/_matrix/client/v3/account/whoami', headers: { authorization: `Bearer ${body.access_token}` } }))
        .statusCode,
    ).toBe(401);
  });

  it('stores only the SHA-256 of the token', async () => {
    const { access_token } = await issue(bob);
    const { rows } = await p.db.query<{ token_hash: Buffer; user_id: string }>(
      'SELECT token_hash, user_id FROM hs_openid_tokens WHERE user_id = $1',
      [bob.userId],
    );
    expect(rows.map((r) => r.token_hash.equals(createHash('sha256').update(access_token).digest()))).toContain(true);
    const text = JSON.stringify((await p.db.query('SELECT * FROM hs_openid_tokens')).rows);
    expect(text).not.toContain(access_token);
  });

  it('refuses a token for someone else with 403 M_FORBIDDEN, and needs auth', async () => {
    const res = await call(p, alice, 'POST', requestToken(bob.userId), {});
    expect(res).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });
    expect((await call(p, undefined, 'POST', requestToken(alice.userId), {})).status).toBe(401);
  });
});

describe('GET /_matrix/federation/v1/openid/userinfo', () => {
  it('round trip: the token names its user, until it expires', async () => {
    const { access_token } = await issue(alice);
    const ok = await call(p, undefined, 'GET', userinfo(access_token));
    expect(ok).toEqual({ status: 200, body: { sub: alice.userId } });
    spec.assertResponse('GET', userinfo(access_token), 200, ok.body);

    await new Promise((r) => setTimeout(r, LIFETIME_MS + 100));
    const expired = await call(p, undefined, 'GET', userinfo(access_token));
    expect(expired).toMatchObject({ status: 401, body: { errcode: 'M_UNKNOWN_TOKEN' } });
    spec.assertResponse('GET', userinfo(access_token), 401, expired.body);
  });

  it('401 M_UNKNOWN_TOKEN for an unknown token (an access token is not one), M_MISSING_TOKEN for none', async () => {
    expect(await call(p, undefined, 'GET', userinfo('not-a-token'))).toMatchObject({ status: 401, body: { errcode: 'M_UNKNOWN_TOKEN' } });
    expect(await call(p, undefined, 'GET', userinfo(alice.accessToken))).toMatchObject({
      status: 401,
      body: { errcode: 'M_UNKNOWN_TOKEN' },
    });
    expect(await call(p, undefined, 'GET', '/_matrix/federation/v1/openid/userinfo')).toMatchObject({
      status: 401,
      body: { errcode: 'M_MISSING_TOKEN' },
    });
  });

  it('prunes expired tokens when issuing', async () => {
    await issue(alice);
    await new Promise((r) => setTimeout(r, LIFETIME_MS + 100));
    await issue(bob);
    const { rows } = await p.db.query<{ n: number }>('SELECT count(*)::int AS n FROM hs_openid_tokens');
    expect(rows[0]!.n).toBe(1);
  });
});
