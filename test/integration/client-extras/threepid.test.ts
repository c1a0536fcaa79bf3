import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../../homeserver/platform.js';
import { specValidator } from '../../helpers/openapi/spec-validator.js';
import { buildPlatform, call, makeUser, type TestUser } from '../../helpers/platform.js';

const spec = await specValidator();
const V3 = '/_matrix/client/v3';
const creds = { client_secret: 'd0nt-T3ll', sid: 'abc123987', id_server: 'id.example.org', id_access_token: 'abc123' };

let p: Platform;
let alice: TestUser;

beforeAll(async () => {
  p = await buildPlatform();
  alice = await makeUser(p, 'alice');
});
afterAll(() => p.close());

describe('third-party identifiers on a server without email or SMS', () => {
  it('GET /account/3pid lists none', async () => {
    const res = await call(p, alice, 'GET', `${V3}/account/3pid`);
    expect(res).toEqual({ status: 200, body: { threepids: [] } });
    spec.assertResponse('GET', `${V3}/account/3pid`, 200, res.body);
    expect((await call(p, undefined, 'GET', `${V3}/account/3pid`)).status).toBe(401);
  });

  it('capabilities say 3PID changes are disabled, and add/delete/POST /account/3pid agree (403 M_FORBIDDEN)', async () => {
    const caps = await call(p, alice, 'GET', `${V3}/capabilities`);
    expect(caps.body.capabilities['m.3pid_changes']).toEqual({ enabled: false });
    const disabled = { errcode: 'M_FORBIDDEN', error: '3PID changes are disabled on this server' };
    const legacy = await call(p, alice, 'POST', `${V3}/account/3pid`, { three_pid_creds: creds });
    expect(legacy).toEqual({ status: 403, body: disabled });
    spec.assertResponse('POST', `${V3}/account/3pid`, 403, legacy.body);
    // The spec documents no error status for these two; Synapse answers the same errcode (with 400).
    expect(await call(p, alice, 'POST', `${V3}/account/3pid/add`, { client_secret: 'x', sid: 'y' })).toEqual({
      status: 403,
      body: disabled,
    });
    expect(await call(p, alice, 'POST', `${V3}/account/3pid/delete`, { medium: 'email', address: 'a@example.org' })).toEqual({
      status: 403,
      body: disabled,
    });
  });

  it('bind: 400 M_SERVER_NOT_TRUSTED (no identity server is contacted); a bad body is 400 too', async () => {
    expect(await call(p, alice, 'POST', `${V3}/account/3pid/bind`, creds)).toMatchObject({
      status: 400,
      body: { errcode: 'M_SERVER_NOT_TRUSTED' },
    });
    expect(await call(p, alice, 'POST', `${V3}/account/3pid/bind`, { sid: 'x' })).toMatchObject({
      status: 400,
      body: { errcode: 'M_MISSING_PARAM' },
    });
  });

  it('unbind: nothing was bound, so no-support (as Synapse); the medium is checked', async () => {
    const url = `${V3}/account/3pid/unbind`;
    const res = await call(p, alice, 'POST', url, { medium: 'email', address: 'a@example.org' });
    expect(res).toEqual({ status: 200, body: { id_server_unbind_result: 'no-support' } });
    spec.assertResponse('POST', url, 200, res.body);
    expect(await call(p, alice, 'POST', url, { medium: 'pigeon', address: 'x' })).toMatchObject({
      status: 400,
      body: { errcode: 'M_BAD_JSON' },
    });
    expect(await call(p, alice, 'POST', url, { medium: 'email' })).toMatchObject({ status: 400, body: { errcode: 'M_MISSING_PARAM' } });
  });

  const email = { client_secret: 'monkeys_are_GREAT', email: 'alice@example.org', send_attempt: 1 };
  const msisdn = { client_secret: 'monkeys_are_GREAT', country: 'GB', phone_number: '07700900001', send_attempt: 1 };
  it.each([
    ['account/3pid/email/requestToken', true, email, 'Adding an email to your account is disabled on this server'],
    ['account/3pid/msisdn/requestToken', true, msisdn, 'Adding phone numbers to user account is not supported by this homeserver'],
    ['register/email/requestToken', false, email, 'Email-based registration has been disabled on this server'],
    ['register/msisdn/requestToken', false, msisdn, 'Registration by phone number is not supported on this homeserver'],
    ['account/password/email/requestToken', false, email, 'Email-based password resets have been disabled on this server'],
    ['account/password/msisdn/requestToken', false, msisdn, 'Phone number-based password resets are not supported on this server'],
  ])('POST /%s: 400 M_THREEPID_MEDIUM_NOT_SUPPORTED', async (path, authed, body, error) => {
    // alice exists only once beforeAll ran, after it.each built its cases.
    const user = authed ? alice : undefined;
    const url = `${V3}/${path}`;
    const res = await call(p, user, 'POST', url, body);
    expect(res).toEqual({ status: 400, body: { errcode: 'M_THREEPID_MEDIUM_NOT_SUPPORTED', error } });
    spec.assertResponse('POST', url, 400, res.body);
    // r0 clients get the same answer, not a 404.
    expect((await call(p, user, 'POST', url.replace('/v3/', '/r0/'), body)).status).toBe(400);
  });

  it('adding a 3PID to your account needs an access token', async () => {
    expect((await call(p, undefined, 'POST', `${V3}/account/3pid/email/requestToken`, email)).status).toBe(401);
    expect((await call(p, undefined, 'POST', `${V3}/account/3pid/add`, {})).status).toBe(401);
  });
});
