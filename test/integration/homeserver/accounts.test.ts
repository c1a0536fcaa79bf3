import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../../homeserver/platform.js';
import { buildPlatform, call, makeUser, SERVER_NAME } from '../../helpers/platform.js';
import { specValidator } from '../../helpers/openapi/spec-validator.js';

let p: Platform;
const spec = await specValidator();

beforeAll(async () => {
  p = await buildPlatform();
});
afterAll(() => p.close());

describe('registration', () => {
  it('answers the first request with the UIA flows and a session', async () => {
    const res = await call(p, undefined, 'POST', '/_matrix/client/v3/register', { username: 'flows', password: 'password123' });
    expect(res.status).toBe(401);
    expect(res.body.flows).toEqual([{ stages: ['m.login.dummy'] }]);
    expect(typeof res.body.session).toBe('string');
  });

  it('registers with the dummy stage and returns a working token', async () => {
    const u = await makeUser(p, 'alice');
    expect(u.userId).toBe(`@alice:${SERVER_NAME}`);
    const who = await call(p, u, 'GET', '/_matrix/client/v3/account/whoami');
    expect(who.status).toBe(200);
    expect(who.body).toMatchObject({ user_id: u.userId, device_id: u.deviceId });
    spec.assertResponse('GET', '/_matrix/client/v3/account/whoami', 200, who.body);
  });

  it('rejects a taken username with M_USER_IN_USE before UIA', async () => {
    await makeUser(p, 'taken');
    const res = await call(p, undefined, 'POST', '/_matrix/client/v3/register', { username: 'taken', password: 'password123' });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_USER_IN_USE');
  });

  it('rejects invalid usernames with M_INVALID_USERNAME', async () => {
    for (const username of ['Has Space', 'ünï', 'a:b', '']) {
      const res = await call(p, undefined, 'GET', `/_matrix/client/v3/register/available?username=${encodeURIComponent(username)}`);
      expect(res.status, username).toBe(400);
      expect(['M_INVALID_USERNAME', 'M_MISSING_PARAM', 'M_INVALID_PARAM']).toContain(res.body.errcode);
    }
  });

  it('reports availability', async () => {
    const free = await call(p, undefined, 'GET', '/_matrix/client/v3/register/available?username=nobody_yet');
    expect(free).toEqual({ status: 200, body: { available: true } });
    spec.assertResponse('GET', '/_matrix/client/v3/register/available', 200, free.body);
  });

  it('rejects weak passwords', async () => {
    const first = await call(p, undefined, 'POST', '/_matrix/client/v3/register', { username: 'weak', password: 'x' });
    const res = await call(p, undefined, 'POST', '/_matrix/client/v3/register', {
      username: 'weak',
      password: 'x',
      auth: { type: 'm.login.dummy', session: first.body.session },
    });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_WEAK_PASSWORD');
  });

  it('is closed when registration is disabled', async () => {
    const closed = await buildPlatform({ registration: { enabled: false } });
    try {
      const res = await call(closed, undefined, 'POST', '/_matrix/client/v3/register', { username: 'x', password: 'password123' });
      expect(res.status).toBe(403);
      expect(res.body.errcode).toBe('M_FORBIDDEN');
    } finally {
      await closed.close();
    }
  });

  it('registers through the shared secret (Synapse admin API) with a correct HMAC only', async () => {
    const { createHmac } = await import('node:crypto');
    const nonce = (await call(p, undefined, 'GET', '/_synapse/admin/v1/register')).body.nonce;
    const mac = (n: string, secret: string) =>
      createHmac('sha1', secret).update([n, 'boss', 'password123', 'admin'].join('\0')).digest('hex');
    const bad = await call(p, undefined, 'POST', '/_synapse/admin/v1/register', {
      nonce,
      username: 'boss',
      password: 'password123',
      admin: true,
      mac: mac(nonce, 'wrong-secret-0123456789'),
    });
    expect(bad.status).toBe(403);
    const nonce2 = (await call(p, undefined, 'GET', '/_synapse/admin/v1/register')).body.nonce;
    const ok = await call(p, undefined, 'POST', '/_synapse/admin/v1/register', {
      nonce: nonce2,
      username: 'boss',
      password: 'password123',
      admin: true,
      mac: mac(nonce2, 'a-test-shared-secret-0123456789'),
    });
    expect(ok.status).toBe(200);
    expect(ok.body.user_id).toBe(`@boss:${SERVER_NAME}`);
    const reuse = await call(p, undefined, 'POST', '/_synapse/admin/v1/register', {
      nonce: nonce2,
      username: 'boss2',
      password: 'password123',
      mac: '00',
    });
    expect(reuse.status).toBe(400);
  });
});

describe('login and sessions', () => {
  it('lists the password flow', async () => {
    const res = await call(p, undefined, 'GET', '/_matrix/client/v3/login');
    expect(res.body.flows).toContainEqual({ type: 'm.login.password' });
    spec.assertResponse('GET', '/_matrix/client/v3/login', 200, res.body);
    expect((await call(p, undefined, 'GET', '/_matrix/client/r0/login')).status).toBe(200);
  });

  it('logs in by localpart or full user id, and rejects a wrong password', async () => {
    const u = await makeUser(p, 'bob', 'bobs password');
    const byLocal = await call(p, undefined, 'POST', '/_matrix/client/v3/login', {
      type: 'm.login.password',
      identifier: { type: 'm.id.user', user: 'bob' },
      password: 'bobs password',
    });
    expect(byLocal.status).toBe(200);
    spec.assertResponse('POST', '/_matrix/client/v3/login', 200, byLocal.body);
    const byId = await call(p, undefined, 'POST', '/_matrix/client/v3/login', {
      type: 'm.login.password',
      user: u.userId,
      password: 'bobs password',
      device_id: 'PHONE',
    });
    expect(byId.body.device_id).toBe('PHONE');
    const wrong = await call(p, undefined, 'POST', '/_matrix/client/v3/login', {
      type: 'm.login.password',
      identifier: { type: 'm.id.user', user: 'bob' },
      password: 'nope nope',
    });
    expect(wrong.status).toBe(403);
    expect(wrong.body.errcode).toBe('M_FORBIDDEN');
    const unknownType = await call(p, undefined, 'POST', '/_matrix/client/v3/login', { type: 'm.login.magic' });
    expect(unknownType.status).toBe(400);
  });

  it('stores tokens hashed, never in the clear', async () => {
    const u = await makeUser(p, 'hashcheck');
    const { rows } = await p.db.query<{ token_hash: Buffer }>('SELECT token_hash FROM hs_access_tokens WHERE user_id = $1', [u.userId]);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.token_hash.toString('utf8')).not.toContain(u.accessToken);
    const pw = await p.db.query<{ password_hash: string }>('SELECT password_hash FROM hs_users WHERE user_id = $1', [u.userId]);
    expect(pw.rows[0]!.password_hash).toMatch(/^scrypt\$/);
  });

  it('logout invalidates the token at once; logout/all ends every session', async () => {
    const u = await makeUser(p, 'carol', 'carols password');
    await call(p, u, 'GET', '/_matrix/client/v3/account/whoami'); // warm the token cache
    expect((await call(p, u, 'POST', '/_matrix/client/v3/logout', {})).status).toBe(200);
    const after = await call(p, u, 'GET', '/_matrix/client/v3/account/whoami');
    expect(after.status).toBe(401);
    expect(after.body.errcode).toBe('M_UNKNOWN_TOKEN');

    const login = async () =>
      (
        await call(p, undefined, 'POST', '/_matrix/client/v3/login', {
          type: 'm.login.password',
          user: 'carol',
          password: 'carols password',
        })
      ).body;
    const s1 = await login();
    const s2 = await login();
    const t1 = {
      userId: s1.user_id,
      deviceId: s1.device_id,
      accessToken: s1.access_token,
      auth: { authorization: `Bearer ${s1.access_token}` },
    };
    const t2 = { ...t1, accessToken: s2.access_token, auth: { authorization: `Bearer ${s2.access_token}` } };
    expect((await call(p, t2, 'GET', '/_matrix/client/v3/account/whoami')).status).toBe(200);
    await call(p, t1, 'POST', '/_matrix/client/v3/logout/all', {});
    expect((await call(p, t2, 'GET', '/_matrix/client/v3/account/whoami')).status).toBe(401);
  });

  it('refuses missing and malformed tokens with the right errcodes', async () => {
    const missing = await call(p, undefined, 'GET', '/_matrix/client/v3/account/whoami');
    expect(missing).toMatchObject({ status: 401, body: { errcode: 'M_MISSING_TOKEN' } });
    const unknown = await p.app.inject({
      method: 'GET',
      url: '/_matrix/client/v3/account/whoami',
      headers: { authorization: 'Bearer nope' },
    });
    expect(unknown.statusCode).toBe(401);
    expect(unknown.json()).toMatchObject({ errcode: 'M_UNKNOWN_TOKEN', soft_logout: false });
    const query = await makeUser(p, 'querytoken');
    const viaQuery = await p.app.inject({ method: 'GET', url: `/_matrix/client/v3/account/whoami?access_token=${query.accessToken}` });
    expect(viaQuery.statusCode).toBe(200);
  });
});

describe('account management', () => {
  it('changes the password behind UIA and logs out other devices', async () => {
    const u = await makeUser(p, 'dave', 'old password');
    const other = (
      await call(p, undefined, 'POST', '/_matrix/client/v3/login', { type: 'm.login.password', user: 'dave', password: 'old password' })
    ).body;
    const challenge = await call(p, u, 'POST', '/_matrix/client/v3/account/password', { new_password: 'new password' });
    expect(challenge.status).toBe(401);
    expect(challenge.body.flows).toEqual([{ stages: ['m.login.password'] }]);
    const wrong = await call(p, u, 'POST', '/_matrix/client/v3/account/password', {
      new_password: 'new password',
      auth: {
        type: 'm.login.password',
        session: challenge.body.session,
        identifier: { type: 'm.id.user', user: 'dave' },
        password: 'bad guess',
      },
    });
    expect(wrong.status).toBe(401);
    expect(wrong.body.errcode).toBe('M_FORBIDDEN');
    const ok = await call(p, u, 'POST', '/_matrix/client/v3/account/password', {
      new_password: 'new password',
      auth: {
        type: 'm.login.password',
        session: challenge.body.session,
        identifier: { type: 'm.id.user', user: 'dave' },
        password: 'old password',
      },
    });
    expect(ok.status).toBe(200);
    expect(
      (await call(p, { ...u, auth: { authorization: `Bearer ${other.access_token}` } }, 'GET', '/_matrix/client/v3/account/whoami')).status,
    ).toBe(401);
    expect((await call(p, u, 'GET', '/_matrix/client/v3/account/whoami')).status).toBe(200);
    const relogin = await call(p, undefined, 'POST', '/_matrix/client/v3/login', {
      type: 'm.login.password',
      user: 'dave',
      password: 'new password',
    });
    expect(relogin.status).toBe(200);
  });

  it('manages devices: list, get, rename, delete behind UIA', async () => {
    const u = await makeUser(p, 'erin', 'erins password');
    const list = await call(p, u, 'GET', '/_matrix/client/v3/devices');
    expect(list.body.devices.map((d: { device_id: string }) => d.device_id)).toEqual([u.deviceId]);
    spec.assertResponse('GET', '/_matrix/client/v3/devices', 200, list.body);
    expect((await call(p, u, 'PUT', `/_matrix/client/v3/devices/${u.deviceId}`, { display_name: 'Laptop' })).status).toBe(200);
    const one = await call(p, u, 'GET', `/_matrix/client/v3/devices/${u.deviceId}`);
    expect(one.body.display_name).toBe('Laptop');
    spec.assertResponse('GET', `/_matrix/client/v3/devices/${u.deviceId}`, 200, one.body);
    expect((await call(p, u, 'GET', '/_matrix/client/v3/devices/NOPE')).status).toBe(404);
    const del = await call(p, u, 'DELETE', `/_matrix/client/v3/devices/${u.deviceId}`, {});
    expect(del.status).toBe(401);
    const done = await call(p, u, 'DELETE', `/_matrix/client/v3/devices/${u.deviceId}`, {
      auth: { type: 'm.login.password', session: del.body.session, user: u.userId, password: 'erins password' },
    });
    expect(done.status).toBe(200);
    expect((await call(p, u, 'GET', '/_matrix/client/v3/devices')).status).toBe(401);
  });

  it('deactivates an account: it leaves its rooms and can no longer log in', async () => {
    const u = await makeUser(p, 'frank', 'franks password');
    const room = (await call(p, u, 'POST', '/_matrix/client/v3/createRoom', {})).body.room_id;
    const challenge = await call(p, u, 'POST', '/_matrix/client/v3/account/deactivate', {});
    const res = await call(p, u, 'POST', '/_matrix/client/v3/account/deactivate', {
      auth: { type: 'm.login.password', session: challenge.body.session, user: 'frank', password: 'franks password' },
    });
    expect(res.status).toBe(200);
    expect(res.body.id_server_unbind_result).toBe('no-support');
    const login = await call(p, undefined, 'POST', '/_matrix/client/v3/login', {
      type: 'm.login.password',
      user: 'frank',
      password: 'franks password',
    });
    expect(login.status).toBe(403);
    const { rows } = await p.db.query('SELECT membership FROM hs_memberships WHERE room_id = $1 AND user_id = $2', [room, u.userId]);
    expect(rows[0]).toEqual({ membership: 'leave' });
  });
});
