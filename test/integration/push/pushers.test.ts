import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../../homeserver/platform.js';
import { specValidator } from '../../helpers/openapi/spec-validator.js';
import { buildPlatform, call, makeUser, type TestUser } from '../../helpers/platform.js';

const spec = await specValidator();
const LIST = '/_matrix/client/v3/pushers';
const SET = '/_matrix/client/v3/pushers/set';
const GATEWAY = 'https://push.example.org/_matrix/push/v1/notify';

let p: Platform;
let alice: TestUser;
let bob: TestUser;

function pusher(overrides: Record<string, unknown> = {}) {
  return {
    kind: 'http',
    app_id: 'im.vector.app.android',
    pushkey: 'alice-phone-token',
    app_display_name: 'Element',
    device_display_name: 'Alice’s phone',
    lang: 'en',
    data: { url: GATEWAY, format: 'event_id_only', custom: 'kept' },
    ...overrides,
  };
}

async function set(user: TestUser, body: unknown) {
  const res = await call(p, user, 'POST', SET, body);
  spec.assertResponse('POST', SET, res.status, res.body);
  return res;
}

async function list(user: TestUser) {
  const res = await call(p, user, 'GET', LIST);
  expect(res.status).toBe(200);
  spec.assertResponse('GET', LIST, 200, res.body);
  return res.body.pushers as Record<string, unknown>[];
}

beforeAll(async () => {
  p = await buildPlatform();
  alice = await makeUser(p, 'alice');
  bob = await makeUser(p, 'bob');
});
afterAll(() => p.close());

describe('GET /pushers and POST /pushers/set', () => {
  it('creates, lists (with profile_tag only when set), updates in place and deletes with kind null', async () => {
    expect(await list(alice)).toEqual([]);
    expect((await set(alice, pusher({ profile_tag: 'phone' }))).status).toBe(200);
    expect(await list(alice)).toEqual([pusher({ profile_tag: 'phone' })]);

    // Same (app_id, pushkey): replaced, not duplicated.
    await set(alice, pusher({ device_display_name: 'Pixel', data: { url: GATEWAY } }));
    expect(await list(alice)).toEqual([pusher({ device_display_name: 'Pixel', data: { url: GATEWAY } })]);

    await set(alice, pusher({ pushkey: 'second', kind: 'email', app_id: 'm.email', data: {} }));
    expect((await list(alice)).map((x) => x.pushkey).sort()).toEqual(['alice-phone-token', 'second']);

    await set(alice, { kind: null, app_id: 'm.email', pushkey: 'second' });
    await set(alice, { kind: null, app_id: 'im.vector.app.android', pushkey: 'alice-phone-token' });
    expect(await list(alice)).toEqual([]);
    // Deleting what does not exist is fine.
    expect((await set(alice, { kind: null, app_id: 'x', pushkey: 'y' })).status).toBe(200);
  });

  it('append false takes the app_id+pushkey from other users; append true shares it', async () => {
    await set(alice, pusher({ pushkey: 'shared' }));
    await set(bob, pusher({ pushkey: 'shared', append: true }));
    expect((await list(alice)).map((x) => x.pushkey)).toEqual(['shared']);
    expect((await list(bob)).map((x) => x.pushkey)).toEqual(['shared']);

    await set(bob, pusher({ pushkey: 'shared' })); // append defaults to false
    expect(await list(alice)).toEqual([]);
    expect((await list(bob)).map((x) => x.pushkey)).toEqual(['shared']);
    await set(bob, { kind: null, app_id: pusher().app_id, pushkey: 'shared' });
  });

  it.each([
    ['no url for an http pusher', pusher({ data: {} }), 'M_INVALID_PARAM'],
    ['a url that is not one', pusher({ data: { url: 'not a url' } }), 'M_INVALID_PARAM'],
    ['a non-http(s) url', pusher({ data: { url: 'ftp://push.example.org/_matrix/push/v1/notify' } }), 'M_INVALID_PARAM'],
    ['a url with another path', pusher({ data: { url: 'https://push.example.org/notify' } }), 'M_INVALID_PARAM'],
    ['an unknown kind', pusher({ kind: 'carrier-pigeon' }), 'M_INVALID_PARAM'],
    ['an unknown format', pusher({ data: { url: GATEWAY, format: 'full' } }), 'M_INVALID_PARAM'],
    ['a pushkey over 512 bytes', pusher({ pushkey: 'é'.repeat(257) }), 'M_INVALID_PARAM'],
    ['an app_id over 64 characters', pusher({ app_id: 'a'.repeat(65) }), 'M_INVALID_PARAM'],
    ['data not an object', pusher({ data: 'x' }), 'M_INVALID_PARAM'],
    ['append not a boolean', pusher({ append: 'yes' }), 'M_INVALID_PARAM'],
    ['no kind', { app_id: 'a', pushkey: 'k' }, 'M_MISSING_PARAM'],
    ['no pushkey', { kind: 'http', app_id: 'a' }, 'M_MISSING_PARAM'],
    ['no lang', { ...pusher(), lang: undefined }, 'M_MISSING_PARAM'],
    ['no data', { ...pusher(), data: undefined }, 'M_MISSING_PARAM'],
  ])('refuses %s with 400 %s', async (_what, body, errcode) => {
    const res = await set(alice, body);
    expect(res).toMatchObject({ status: 400, body: { errcode } });
  });

  it('accepts the limits exactly, and http:// gateways (Synapse does; Sygnal is often local)', async () => {
    await set(
      alice,
      pusher({ pushkey: 'k'.repeat(512), app_id: 'a'.repeat(64), data: { url: 'http://127.0.0.1:5000/_matrix/push/v1/notify' } }),
    );
    expect((await list(alice)).map((x) => x.app_id)).toEqual(['a'.repeat(64)]);
    await set(alice, { kind: null, app_id: 'a'.repeat(64), pushkey: 'k'.repeat(512) });
  });

  it('needs an access token; r0 paths work too', async () => {
    expect((await call(p, undefined, 'GET', LIST)).status).toBe(401);
    expect((await call(p, undefined, 'POST', SET, pusher())).status).toBe(401);
    expect((await call(p, alice, 'GET', LIST.replace('/v3/', '/r0/'))).status).toBe(200);
    expect((await call(p, alice, 'POST', SET.replace('/v3/', '/r0/'), pusher({ pushkey: 'r0' }))).status).toBe(200);
    await set(alice, { kind: null, app_id: pusher().app_id, pushkey: 'r0' });
  });
});

describe('pushers go with their device', () => {
  async function login(localpart: string) {
    const res = await call(p, undefined, 'POST', '/_matrix/client/v3/login', {
      type: 'm.login.password',
      identifier: { type: 'm.id.user', user: localpart },
      password: 'correct horse battery',
    });
    expect(res.status).toBe(200);
    const token = res.body.access_token as string;
    return { userId: res.body.user_id, deviceId: res.body.device_id, accessToken: token, auth: { authorization: `Bearer ${token}` } };
  }

  it('logging out removes the device’s http pushers, not the other devices’ nor email pushers', async () => {
    const phone = await login('alice');
    await set(phone, pusher({ pushkey: 'phone' }));
    await set(phone, pusher({ kind: 'email', app_id: 'm.email', pushkey: 'alice@example.org', data: {} }));
    await set(alice, pusher({ pushkey: 'first-device' }));
    expect((await call(p, phone, 'POST', '/_matrix/client/v3/logout', {})).status).toBe(200);
    expect((await list(alice)).map((x) => x.pushkey).sort()).toEqual(['alice@example.org', 'first-device']);
  });

  it('deleting a device removes its pushers', async () => {
    const tablet = await login('bob');
    await set(tablet, pusher({ pushkey: 'tablet' }));
    expect((await list(bob)).map((x) => x.pushkey)).toEqual(['tablet']);
    const first = await call(p, bob, 'DELETE', `/_matrix/client/v3/devices/${tablet.deviceId}`, {});
    const res = await call(p, bob, 'DELETE', `/_matrix/client/v3/devices/${tablet.deviceId}`, {
      auth: {
        type: 'm.login.password',
        identifier: { type: 'm.id.user', user: 'bob' },
        password: 'correct horse battery',
        session: first.body.session,
      },
    });
    expect(res.status).toBe(200);
    expect(await list(bob)).toEqual([]);
  });
});
