import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../../homeserver/platform.js';
import { buildPlatform, call, enc, makeUser, SERVER_NAME, type TestUser } from '../../helpers/platform.js';
import { specValidator } from '../../helpers/openapi/spec-validator.js';

const spec = await specValidator();

/** A registration file as bridges write them; users @bridge_*, aliases #bridge_*. */
function writeRegistration(dir: string, name: string, extra: string): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    `id: ${name}
url: null
as_token: ${name}-as-token
hs_token: ${name}-hs-token
sender_localpart: ${name}bot
namespaces:
  users:
    - exclusive: true
      regex: '@${name}_.*:test\\.local'
  aliases:
    - exclusive: true
      regex: '#${name}_.*:test\\.local'
${extra}`,
  );
  return file;
}

let p: Platform;
let alice: TestUser;
const AS = { userId: '', deviceId: '', accessToken: 'bridge-as-token', auth: { authorization: 'Bearer bridge-as-token' } };
const UNLIMITED = { userId: '', deviceId: '', accessToken: 'free-as-token', auth: { authorization: 'Bearer free-as-token' } };
const ghost = (n: string) => `@bridge_${n}:${SERVER_NAME}`;

async function registerGhost(localpart: string, as = AS, extra: Record<string, unknown> = {}) {
  return call(p, as, 'POST', '/_matrix/client/v3/register', { type: 'm.login.application_service', username: localpart, ...extra });
}

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'causeway-as-'));
  p = await buildPlatform({
    registration: { enabled: true },
    appservices: {
      registration_files: [
        writeRegistration(dir, 'bridge', 'rate_limited: true\n'),
        writeRegistration(dir, 'free', 'rate_limited: false\nio.element.msc4190: true\n'),
      ],
    },
    limits: {
      rate_limits: {
        login: { per_second: 0.001, burst: 3 },
        register: { per_second: 0.001, burst: 100 },
        send: { per_second: 0.001, burst: 5 },
      },
    },
  });
  alice = await makeUser(p, 'alice');
});
afterAll(() => p.close());

describe('as_token and masquerading', () => {
  it('authenticates the appservice as its sender (registered on first use)', async () => {
    const who = await call(p, AS, 'GET', '/_matrix/client/v3/account/whoami');
    expect(who).toEqual({ status: 200, body: { user_id: `@bridgebot:${SERVER_NAME}`, is_guest: false } });
    spec.assertResponse('GET', '/_matrix/client/v3/account/whoami', 200, who.body);
  });

  it('masquerades as a registered ghost with ?user_id=', async () => {
    expect((await registerGhost('bridge_alpha')).status).toBe(200);
    const who = await call(p, AS, 'GET', `/_matrix/client/v3/account/whoami?user_id=${enc(ghost('alpha'))}`);
    expect(who.status).toBe(200);
    expect(who.body.user_id).toBe(ghost('alpha'));
  });

  it('refuses users outside its namespaces, and ghosts not registered yet', async () => {
    const outside = await call(p, AS, 'GET', `/_matrix/client/v3/account/whoami?user_id=${enc(alice.userId)}`);
    expect(outside.status).toBe(403);
    expect(outside.body.errcode).toBe('M_FORBIDDEN');
    const otherAs = await call(p, AS, 'GET', `/_matrix/client/v3/account/whoami?user_id=${enc(`@free_x:${SERVER_NAME}`)}`);
    expect(otherAs.status).toBe(403);
    const unregistered = await call(p, AS, 'GET', `/_matrix/client/v3/account/whoami?user_id=${enc(ghost('nobody'))}`);
    expect(unregistered.status).toBe(403);
    expect(unregistered.body.errcode).toBe('M_FORBIDDEN');
  });

  it('ignores ?user_id= on a normal user token', async () => {
    const who = await call(p, alice, 'GET', `/_matrix/client/v3/account/whoami?user_id=${enc(ghost('alpha'))}`);
    expect(who.body.user_id).toBe(alice.userId);
  });

  it('sends as the ghost: the event sender is the masqueraded user', async () => {
    const gid = ghost('alpha');
    const room = await call(p, AS, 'POST', `/_matrix/client/v3/createRoom?user_id=${enc(gid)}`, {});
    expect(room.status).toBe(200);
    const sent = await call(p, AS, 'PUT', `/_matrix/client/v3/rooms/${enc(room.body.room_id)}/send/m.room.message/t1?user_id=${enc(gid)}`, {
      msgtype: 'm.text',
      body: 'hi',
    });
    expect(sent.status).toBe(200);
    const ev = await call(
      p,
      AS,
      'GET',
      `/_matrix/client/v3/rooms/${enc(room.body.room_id)}/event/${enc(sent.body.event_id)}?user_id=${enc(gid)}`,
    );
    expect(ev.body.sender).toBe(gid);
  });
});

describe('device masquerading (spec v1.17, MSC4190)', () => {
  it('acts as an existing device of the user and refuses unknown devices', async () => {
    const reg = await registerGhost('bridge_dev');
    expect(reg.body.device_id).toBeTruthy(); // login not inhibited: a device exists
    const uid = ghost('dev');
    const who = await call(p, AS, 'GET', `/_matrix/client/v3/account/whoami?user_id=${enc(uid)}&device_id=${enc(reg.body.device_id)}`);
    expect(who.body).toMatchObject({ user_id: uid, device_id: reg.body.device_id });
    spec.assertResponse('GET', '/_matrix/client/v3/account/whoami', 200, who.body);
    const msc3202 = await call(
      p,
      AS,
      'GET',
      `/_matrix/client/v3/account/whoami?user_id=${enc(uid)}&org.matrix.msc3202.device_id=${enc(reg.body.device_id)}`,
    );
    expect(msc3202.body.device_id).toBe(reg.body.device_id);
    const unknown = await call(p, AS, 'GET', `/_matrix/client/v3/account/whoami?user_id=${enc(uid)}&device_id=NOPE`);
    expect(unknown.status).toBe(400);
    expect(unknown.body.errcode).toBe('M_FORBIDDEN');
  });

  it('an io.element.msc4190 appservice creates and deletes devices itself', async () => {
    // MSC4190 appservices must register with inhibit_login.
    const refused = await registerGhost('free_one', UNLIMITED);
    expect(refused.status).toBe(400);
    expect((await registerGhost('free_one', UNLIMITED, { inhibit_login: true })).status).toBe(200);
    const uid = `@free_one:${SERVER_NAME}`;
    const put = await call(p, UNLIMITED, 'PUT', `/_matrix/client/v3/devices/BRIDGEDEV?user_id=${enc(uid)}`, { display_name: 'Bridge' });
    expect(put.status).toBe(200);
    const who = await call(p, UNLIMITED, 'GET', `/_matrix/client/v3/account/whoami?user_id=${enc(uid)}&device_id=BRIDGEDEV`);
    expect(who.body).toMatchObject({ user_id: uid, device_id: 'BRIDGEDEV' });
    const del = await call(p, UNLIMITED, 'DELETE', `/_matrix/client/v3/devices/BRIDGEDEV?user_id=${enc(uid)}`, {});
    expect(del.status).toBe(200);
    const gone = await call(p, UNLIMITED, 'GET', `/_matrix/client/v3/account/whoami?user_id=${enc(uid)}&device_id=BRIDGEDEV`);
    expect(gone.status).toBe(400);
    // Without MSC4190 the PUT only renames existing devices.
    const plain = await call(p, AS, 'PUT', `/_matrix/client/v3/devices/NEWDEV?user_id=${enc(ghost('alpha'))}`, {});
    expect(plain.status).toBe(404);
  });
});

describe('ghost registration and login', () => {
  it('registers ghosts without password or UIA, only inside the namespace', async () => {
    const ok = await registerGhost('bridge_beta', AS, { inhibit_login: true });
    expect(ok).toEqual({ status: 200, body: { user_id: ghost('beta'), home_server: SERVER_NAME } });
    spec.assertResponse('POST', '/_matrix/client/v3/register', 200, ok.body);
    const outside = await registerGhost('someone_else');
    expect(outside.status).toBe(400);
    expect(outside.body.errcode).toBe('M_EXCLUSIVE');
    const noToken = await call(p, undefined, 'POST', '/_matrix/client/v3/register', {
      type: 'm.login.application_service',
      username: 'bridge_x',
    });
    expect(noToken.status).toBe(401);
    expect(noToken.body.errcode).toBe('M_MISSING_TOKEN');
    const userToken = await call(p, alice, 'POST', '/_matrix/client/v3/register', {
      type: 'm.login.application_service',
      username: 'bridge_x',
    });
    expect(userToken.body.errcode).toBe('M_UNKNOWN_TOKEN');
  });

  it('logs ghosts in with m.login.application_service (advertised in the flows)', async () => {
    const flows = await call(p, undefined, 'GET', '/_matrix/client/v3/login');
    expect(flows.body.flows).toContainEqual({ type: 'm.login.application_service' });
    const login = await call(p, AS, 'POST', '/_matrix/client/v3/login', {
      type: 'm.login.application_service',
      identifier: { type: 'm.id.user', user: 'bridge_beta' },
    });
    expect(login.status).toBe(200);
    expect(login.body.user_id).toBe(ghost('beta'));
    spec.assertResponse('POST', '/_matrix/client/v3/login', 200, login.body);
    spec.assertResponse('GET', '/_matrix/client/v3/login', 200, flows.body);
    const who = await call(
      p,
      { ...alice, auth: { authorization: `Bearer ${login.body.access_token}` } },
      'GET',
      '/_matrix/client/v3/account/whoami',
    );
    expect(who.body).toMatchObject({ user_id: ghost('beta'), device_id: login.body.device_id });
    const foreign = await call(p, AS, 'POST', '/_matrix/client/v3/login', {
      type: 'm.login.application_service',
      identifier: { type: 'm.id.user', user: alice.userId },
    });
    expect(foreign.status).toBe(403);
    const noToken = await call(p, undefined, 'POST', '/_matrix/client/v3/login', {
      type: 'm.login.application_service',
      identifier: { type: 'm.id.user', user: 'bridge_beta' },
    });
    expect(noToken.body.errcode).toBe('M_MISSING_TOKEN');
  });
});

describe('M_EXCLUSIVE for normal users', () => {
  it('refuses registering a name in an exclusive namespace (and the sender)', async () => {
    for (const username of ['bridge_mine', 'bridgebot']) {
      const res = await call(p, undefined, 'POST', '/_matrix/client/v3/register', { username, password: 'password1234' });
      expect(res.status, username).toBe(400);
      expect(res.body.errcode, username).toBe('M_EXCLUSIVE');
    }
    const available = await call(p, undefined, 'GET', '/_matrix/client/v3/register/available?username=bridge_mine');
    expect(available.body.errcode).toBe('M_EXCLUSIVE');
  });

  it('refuses password login as an appservice user', async () => {
    const res = await call(p, undefined, 'POST', '/_matrix/client/v3/login', {
      type: 'm.login.password',
      identifier: { type: 'm.id.user', user: 'bridge_beta' },
      password: 'whatever123',
    });
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_EXCLUSIVE');
  });

  it('refuses creating and deleting aliases in an exclusive alias namespace; the appservice may', async () => {
    const room = await call(p, alice, 'POST', '/_matrix/client/v3/createRoom', {});
    const alias = `#bridge_room:${SERVER_NAME}`;
    const create = await call(p, alice, 'PUT', `/_matrix/client/v3/directory/room/${enc(alias)}`, { room_id: room.body.room_id });
    expect(create.status).toBe(400);
    expect(create.body.errcode).toBe('M_EXCLUSIVE');
    const viaCreateRoom = await call(p, alice, 'POST', '/_matrix/client/v3/createRoom', { room_alias_name: 'bridge_other' });
    expect(viaCreateRoom.body.errcode).toBe('M_EXCLUSIVE');
    // The appservice's ghost, in the room, may claim it.
    await call(p, alice, 'POST', `/_matrix/client/v3/rooms/${enc(room.body.room_id)}/invite`, { user_id: ghost('alpha') });
    const q = `?user_id=${enc(ghost('alpha'))}`;
    expect((await call(p, AS, 'POST', `/_matrix/client/v3/join/${enc(room.body.room_id)}${q}`, {})).status).toBe(200);
    expect((await call(p, AS, 'PUT', `/_matrix/client/v3/directory/room/${enc(alias)}${q}`, { room_id: room.body.room_id })).status).toBe(
      200,
    );
    // Even the room's creator (a moderator) may not delete it.
    const del = await call(p, alice, 'DELETE', `/_matrix/client/v3/directory/room/${enc(alias)}`);
    expect(del.body.errcode).toBe('M_EXCLUSIVE');
    expect((await call(p, AS, 'DELETE', `/_matrix/client/v3/directory/room/${enc(alias)}${q}`)).status).toBe(200);
  });
});

describe('ts override and rate limits', () => {
  it('honours ?ts= on send and state for appservices only', async () => {
    const gid = ghost('alpha');
    const q = `user_id=${enc(gid)}`;
    const room = await call(p, AS, 'POST', `/_matrix/client/v3/createRoom?${q}`, {});
    const rid = enc(room.body.room_id);
    const ts = 1_600_000_000_000;
    const sent = await call(p, AS, 'PUT', `/_matrix/client/v3/rooms/${rid}/send/m.room.message/ts1?${q}&ts=${ts}`, {
      msgtype: 'm.text',
      body: 'old',
    });
    const state = await call(p, AS, 'PUT', `/_matrix/client/v3/rooms/${rid}/state/m.room.topic?${q}&ts=${ts + 1}`, { topic: 'old' });
    const ev1 = await call(p, AS, 'GET', `/_matrix/client/v3/rooms/${rid}/event/${enc(sent.body.event_id)}?${q}`);
    const ev2 = await call(p, AS, 'GET', `/_matrix/client/v3/rooms/${rid}/event/${enc(state.body.event_id)}?${q}`);
    expect(ev1.body.origin_server_ts).toBe(ts);
    expect(ev2.body.origin_server_ts).toBe(ts + 1);

    const own = await call(p, alice, 'POST', '/_matrix/client/v3/createRoom', {});
    const mine = await call(p, alice, 'PUT', `/_matrix/client/v3/rooms/${enc(own.body.room_id)}/send/m.room.message/ts2?ts=${ts}`, {
      msgtype: 'm.text',
      body: 'now',
    });
    const ev3 = await call(p, alice, 'GET', `/_matrix/client/v3/rooms/${enc(own.body.room_id)}/event/${enc(mine.body.event_id)}`);
    expect(ev3.body.origin_server_ts).toBeGreaterThan(ts + 1000);
  });

  it('rate-limits a rate_limited appservice but not one with rate_limited: false', async () => {
    const freeRoom = await call(p, UNLIMITED, 'POST', '/_matrix/client/v3/createRoom', {});
    for (let i = 0; i < 12; i++) {
      const r = await call(p, UNLIMITED, 'PUT', `/_matrix/client/v3/rooms/${enc(freeRoom.body.room_id)}/send/m.room.message/f${i}`, {
        body: `${i}`,
        msgtype: 'm.text',
      });
      expect(r.status).toBe(200);
    }
    const room = await call(p, AS, 'POST', '/_matrix/client/v3/createRoom', {});
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      const r = await call(p, AS, 'PUT', `/_matrix/client/v3/rooms/${enc(room.body.room_id)}/send/m.room.message/l${i}`, {
        body: `${i}`,
        msgtype: 'm.text',
      });
      statuses.push(r.status);
    }
    expect(statuses).toContain(429);
  });
});
