import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../../homeserver/platform.js';
import { buildPlatform, call, makeUser, SERVER_NAME, type TestUser } from '../../helpers/platform.js';
import { specValidator } from '../../helpers/openapi/spec-validator.js';
import { verifyJsonSignature } from '../../../homeserver/matrix/signing.js';
import { crossSigningKey, deviceKeysOf, ed25519, loginAgain, oneTimeKeys, signed, type TestDevice } from './e2e-fixtures.js';

let p: Platform;
const spec = await specValidator();
const K = '/_matrix/client/v3/keys';

beforeAll(async () => {
  p = await buildPlatform();
});
afterAll(() => p.close());

/** POST a keys endpoint, assert 200 and the spec's response schema. */
async function ok(user: TestUser, path: string, body: unknown) {
  const res = await call(p, user, 'POST', `${K}${path}`, body);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  spec.assertResponse('POST', `${K}${path}`, 200, res.body);
  return res.body;
}

async function uploadDevice(user: TestUser, otks = 0, prefix = 'k'): Promise<TestDevice> {
  const device = deviceKeysOf(user);
  const body = await ok(user, '/upload', { device_keys: device.deviceKeys, one_time_keys: oneTimeKeys(user, device, otks, prefix) });
  expect(body.one_time_key_counts.signed_curve25519).toBe(otks);
  return device;
}

async function createSharedRoom(a: TestUser, b: TestUser): Promise<string> {
  const roomId = (await call(p, a, 'POST', '/_matrix/client/v3/createRoom', { preset: 'public_chat' })).body.room_id;
  expect((await call(p, b, 'POST', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/join`, {})).status).toBe(200);
  return roomId;
}

describe('upload, query and claim', () => {
  it('round-trips device keys and one-time keys for two users with two devices', async () => {
    const alice = await makeUser(p, 'alice');
    const alice2 = await loginAgain(p, alice);
    const bob = await makeUser(p, 'bob');
    const a1 = await uploadDevice(alice, 5);
    const a2 = await uploadDevice(alice2, 5);
    await uploadDevice(bob, 2);

    const all = await ok(bob, '/query', { device_keys: { [alice.userId]: [], [bob.userId]: [] } });
    expect(Object.keys(all.device_keys[alice.userId]).sort()).toEqual([alice.deviceId, alice2.deviceId].sort());
    expect(all.device_keys[alice.userId][alice.deviceId]).toMatchObject(a1.deviceKeys);
    expect(all.device_keys[alice.userId][alice2.deviceId]).toMatchObject(a2.deviceKeys);
    expect(Object.keys(all.device_keys[bob.userId])).toEqual([bob.deviceId]);
    expect(all.failures).toEqual({});

    const one = await ok(bob, '/query', { device_keys: { [alice.userId]: [alice2.deviceId] } });
    expect(Object.keys(one.device_keys[alice.userId])).toEqual([alice2.deviceId]);

    // unknown local users and remote users are simply absent
    const none = await ok(bob, '/query', { device_keys: { [`@nobody:${SERVER_NAME}`]: [], '@x:elsewhere.example': [] } });
    expect(none.device_keys).toEqual({});

    const claim = await ok(bob, '/claim', {
      one_time_keys: { [alice.userId]: { [alice.deviceId]: 'signed_curve25519', [alice2.deviceId]: 'signed_curve25519' } },
    });
    for (const [device, d] of [
      [alice.deviceId, a1],
      [alice2.deviceId, a2],
    ] as const) {
      const keys = claim.one_time_keys[alice.userId][device];
      expect(Object.keys(keys)).toHaveLength(1);
      const [id, key] = Object.entries(keys)[0]! as [string, object];
      expect(id).toMatch(/^signed_curve25519:k\d$/);
      // the claimed key is exactly what the device signed
      expect(verifyJsonSignature(key, alice.userId, `ed25519:${device}`, d.key.publicKey)).toBe(true);
    }
    // each device now has 4 left
    expect((await ok(alice, '/upload', {})).one_time_key_counts).toEqual({ signed_curve25519: 4 });
    expect((await ok(alice2, '/upload', {})).one_time_key_counts).toEqual({ signed_curve25519: 4 });
    // r0 works too
    const r0 = await call(p, alice, 'POST', '/_matrix/client/r0/keys/upload', {});
    expect(r0.body.one_time_key_counts.signed_curve25519).toBe(4);
  });

  it('re-uploading a one-time key is idempotent, a different key under the same id is refused', async () => {
    const u = await makeUser(p, 'otkdup');
    const d = await uploadDevice(u, 0);
    const otks = oneTimeKeys(u, d, 3);
    await ok(u, '/upload', { one_time_keys: otks });
    expect((await ok(u, '/upload', { one_time_keys: otks })).one_time_key_counts.signed_curve25519).toBe(3);
    const clash = await call(p, u, 'POST', `${K}/upload`, { one_time_keys: { 'signed_curve25519:k0': { key: 'other', signatures: {} } } });
    expect(clash).toMatchObject({ status: 400, body: { errcode: 'M_INVALID_PARAM' } });
  });

  it('20 concurrent claims of 10 one-time keys hand out each key once, then the fallback key', async () => {
    const carol = await makeUser(p, 'carol');
    const claimers = await Promise.all([makeUser(p, 'claimer1'), makeUser(p, 'claimer2')]);
    const device = await uploadDevice(carol, 10);
    const fallback = signed({ key: ed25519().publicKey, fallback: true }, carol.userId, `ed25519:${carol.deviceId}`, device.key);
    await ok(carol, '/upload', { fallback_keys: { 'signed_curve25519:fb1': fallback } });
    expect(await p.services.e2e.sync.otkCounts(carol.userId, carol.deviceId)).toEqual({
      device_one_time_keys_count: { signed_curve25519: 10 },
      device_unused_fallback_key_types: ['signed_curve25519'],
    });

    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        call(p, claimers[i % 2], 'POST', `${K}/claim`, { one_time_keys: { [carol.userId]: { [carol.deviceId]: 'signed_curve25519' } } }),
      ),
    );
    const ids = results.map((r) => {
      expect(r.status).toBe(200);
      return Object.keys(r.body.one_time_keys[carol.userId][carol.deviceId])[0]!;
    });
    const otkIds = ids.filter((id) => id !== 'signed_curve25519:fb1');
    expect(otkIds).toHaveLength(10);
    expect(new Set(otkIds).size).toBe(10);
    expect(ids.filter((id) => id === 'signed_curve25519:fb1')).toHaveLength(10);

    expect(await p.services.e2e.sync.otkCounts(carol.userId, carol.deviceId)).toEqual({
      device_one_time_keys_count: { signed_curve25519: 0 },
      device_unused_fallback_key_types: [],
    });
    // the fallback key is re-used, never deleted
    const again = await ok(claimers[0]!, '/claim', { one_time_keys: { [carol.userId]: { [carol.deviceId]: 'signed_curve25519' } } });
    expect(again.one_time_keys[carol.userId][carol.deviceId]['signed_curve25519:fb1']).toEqual(fallback);
  });

  it('fallback keys: unstable prefix accepted, same key keeps "used", a new key is unused again', async () => {
    const u = await makeUser(p, 'fbuser');
    const claimer = await makeUser(p, 'fbclaimer');
    const d = await uploadDevice(u, 0);
    const fb1 = signed({ key: ed25519().publicKey, fallback: true }, u.userId, `ed25519:${u.deviceId}`, d.key);
    await ok(u, '/upload', { 'org.matrix.msc2732.fallback_keys': { 'signed_curve25519:f1': fb1 } });
    const claimed = await ok(claimer, '/claim', { one_time_keys: { [u.userId]: { [u.deviceId]: 'signed_curve25519' } } });
    expect(claimed.one_time_keys[u.userId][u.deviceId]).toEqual({ 'signed_curve25519:f1': fb1 });
    expect((await p.services.e2e.sync.otkCounts(u.userId, u.deviceId)).device_unused_fallback_key_types).toEqual([]);
    await ok(u, '/upload', { fallback_keys: { 'signed_curve25519:f1': fb1 } });
    expect((await p.services.e2e.sync.otkCounts(u.userId, u.deviceId)).device_unused_fallback_key_types).toEqual([]);
    const fb2 = signed({ key: ed25519().publicKey, fallback: true }, u.userId, `ed25519:${u.deviceId}`, d.key);
    await ok(u, '/upload', { fallback_keys: { 'signed_curve25519:f2': fb2 } });
    expect((await p.services.e2e.sync.otkCounts(u.userId, u.deviceId)).device_unused_fallback_key_types).toEqual(['signed_curve25519']);
    // a claim for a device without any key returns nothing for it
    const empty = await ok(claimer, '/claim', { one_time_keys: { [u.userId]: { NOSUCHDEVICE: 'signed_curve25519' } } });
    expect(empty.one_time_keys).toEqual({});
  });
});

describe('device list changes', () => {
  it('keys/changes reports a room-mate who uploaded new keys, not a user sharing no room', async () => {
    const erin = await makeUser(p, 'erin');
    const frank = await makeUser(p, 'frank');
    const stranger = await makeUser(p, 'stranger');
    await createSharedRoom(erin, frank);
    const from = await p.services.e2e.sync.deviceLists.currentPosition();
    await uploadDevice(frank);
    await uploadDevice(stranger);
    const to = await p.services.e2e.sync.deviceLists.currentPosition();
    expect(to).toBeGreaterThan(from);

    const url = `${K}/changes?from=${from}&to=${to}`;
    const res = await call(p, erin, 'GET', url);
    expect(res.status).toBe(200);
    spec.assertResponse('GET', url, 200, res.body);
    expect(res.body.changed).toContain(frank.userId);
    expect(res.body.changed).not.toContain(stranger.userId);
    // the user's own change is reported to themselves
    expect((await call(p, stranger, 'GET', url)).body.changed).toEqual([stranger.userId]);
    // the same through the sync stream source
    expect(await p.services.e2e.sync.deviceLists.sectionFor(erin.userId, erin.deviceId, from, to, { joined: [] })).toEqual({
      changed: [frank.userId],
      left: [],
    });
    expect(await p.services.e2e.sync.deviceLists.sectionFor(erin.userId, erin.deviceId, to, to, { joined: [] })).toBeUndefined();
    // an identical re-upload is not a change
    const before = await p.services.e2e.sync.deviceLists.currentPosition();
    const again = deviceKeysOf(stranger);
    await ok(stranger, '/upload', { device_keys: again.deviceKeys });
    const mid = await p.services.e2e.sync.deviceLists.currentPosition();
    expect(mid).toBe(before + 1);
    await ok(stranger, '/upload', { device_keys: again.deviceKeys });
    expect(await p.services.e2e.sync.deviceLists.currentPosition()).toBe(mid);
  });

  it('a deleted device is a change, and its keys are gone', async () => {
    const gina = await makeUser(p, 'gina');
    const gina2 = await loginAgain(p, gina);
    const hank = await makeUser(p, 'hank');
    await createSharedRoom(gina, hank);
    await uploadDevice(gina2, 3);
    const from = await p.services.e2e.sync.deviceLists.currentPosition();
    const del = await call(p, gina, 'POST', '/_matrix/client/v3/delete_devices', {
      devices: [gina2.deviceId],
      auth: { type: 'm.login.password', identifier: { type: 'm.id.user', user: gina.userId }, password: 'correct horse battery' },
    });
    // UIA may need a session round trip first
    if (del.status === 401) {
      const res = await call(p, gina, 'POST', '/_matrix/client/v3/delete_devices', {
        devices: [gina2.deviceId],
        auth: {
          type: 'm.login.password',
          identifier: { type: 'm.id.user', user: gina.userId },
          password: 'correct horse battery',
          session: del.body.session,
        },
      });
      expect(res.status).toBe(200);
    } else expect(del.status).toBe(200);
    const to = await p.services.e2e.sync.deviceLists.currentPosition();
    expect((await call(p, hank, 'GET', `${K}/changes?from=${from}&to=${to}`)).body.changed).toEqual([gina.userId]);
    const q = await ok(hank, '/query', { device_keys: { [gina.userId]: [] } });
    expect(q.device_keys[gina.userId]).toEqual({});
    const { rows } = await p.db.query('SELECT count(*)::int AS n FROM hs_e2e_one_time_keys WHERE user_id = $1', [gina.userId]);
    expect(rows[0]!.n).toBe(0);
  });

  it('deviceListsSection covers joins and leaves of shared rooms', async () => {
    const ivy = await makeUser(p, 'ivy');
    const jack = await makeUser(p, 'jack');
    const kim = await makeUser(p, 'kim');
    const roomId = (await call(p, ivy, 'POST', '/_matrix/client/v3/createRoom', { preset: 'public_chat' })).body.room_id;
    const pos = async () => ({
      events: await p.services.rooms.store.maxStreamOrdering(),
      device_lists: await p.services.e2e.sync.deviceLists.currentPosition(),
    });
    const section = p.services.e2e.sync.deviceListsSection;

    const t0 = await pos();
    await call(p, jack, 'POST', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/join`, {});
    const t1 = await pos();
    // ivy must start tracking jack; jack (who joined) must track everyone in the room
    expect(await section(ivy.userId, t0, t1)).toEqual({ changed: [jack.userId], left: [] });
    expect(await section(jack.userId, t0, t1)).toEqual({ changed: [ivy.userId], left: [] });
    // kim shares nothing with either
    expect(await section(kim.userId, t0, t1)).toEqual({ changed: [], left: [] });

    await call(p, jack, 'POST', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/leave`, {});
    const t2 = await pos();
    expect(await section(ivy.userId, t1, t2)).toEqual({ changed: [], left: [jack.userId] });
    expect(await section(jack.userId, t1, t2)).toEqual({ changed: [], left: [ivy.userId] });
    // joined and left again within one range: nothing to track
    expect(await section(ivy.userId, t0, t2)).toEqual({ changed: [], left: [] });
    // initial sync: no section
    expect(await section(ivy.userId, { events: 0, device_lists: 0 }, t2)).toEqual({ changed: [], left: [] });
  });
});

describe('cross-signing', () => {
  it('first upload needs no UIA, a replacement does; signatures become visible in keys/query', async () => {
    const lena = await makeUser(p, 'lena');
    const mo = await makeUser(p, 'mo');
    await createSharedRoom(lena, mo);
    const lenaDevice = await uploadDevice(lena);
    await uploadDevice(mo);

    const master = ed25519();
    const ssk = ed25519();
    const usk = ed25519();
    const masterKey = signed(crossSigningKey(lena.userId, 'master', master), lena.userId, `ed25519:${lena.deviceId}`, lenaDevice.key);
    const sskKey = signed(crossSigningKey(lena.userId, 'self_signing', ssk), lena.userId, `ed25519:${master.publicKey}`, master);
    const uskKey = signed(crossSigningKey(lena.userId, 'user_signing', usk), lena.userId, `ed25519:${master.publicKey}`, master);
    const upload = `${K}/device_signing/upload`;

    // a self-signing key not signed by the master key
    const bad = await call(p, lena, 'POST', upload, {
      master_key: masterKey,
      self_signing_key: signed(crossSigningKey(lena.userId, 'self_signing', ssk), lena.userId, `ed25519:${master.publicKey}`, ssk),
    });
    expect(bad).toMatchObject({ status: 400, body: { errcode: 'M_INVALID_SIGNATURE' } });

    const first = await call(p, lena, 'POST', upload, { master_key: masterKey, self_signing_key: sskKey, user_signing_key: uskKey });
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    spec.assertResponse('POST', upload, 200, first.body);
    // the same keys again: idempotent, still no UIA
    expect((await call(p, lena, 'POST', upload, { master_key: masterKey, self_signing_key: sskKey })).status).toBe(200);

    const seenByMo = await ok(mo, '/query', { device_keys: { [lena.userId]: [] } });
    expect(seenByMo.master_keys[lena.userId]).toEqual(masterKey);
    expect(seenByMo.self_signing_keys[lena.userId]).toEqual(sskKey);
    expect(seenByMo.user_signing_keys).toEqual({});
    const seenByLena = await ok(lena, '/query', { device_keys: { [lena.userId]: [] } });
    expect(seenByLena.user_signing_keys[lena.userId]).toEqual(uskKey);

    // lena's self-signing key signs her device
    const deviceSig = signed(lenaDevice.deviceKeys, lena.userId, `ed25519:${ssk.publicKey}`, ssk);
    // mo's master key, so lena can sign it with her user-signing key
    const moMaster = ed25519();
    const moMasterKey = crossSigningKey(mo.userId, 'master', moMaster);
    expect((await call(p, mo, 'POST', upload, { master_key: moMasterKey })).status).toBe(200);
    const moMasterSig = signed(moMasterKey, lena.userId, `ed25519:${usk.publicKey}`, usk);
    const forged = signed(crossSigningKey(mo.userId, 'master', moMaster), lena.userId, `ed25519:${usk.publicKey}`, ed25519());

    const from = await p.services.e2e.sync.deviceLists.currentPosition();
    const sigs = await ok(lena, '/signatures/upload', {
      [lena.userId]: { [lena.deviceId]: deviceSig },
      [mo.userId]: { [moMaster.publicKey]: moMasterSig },
    });
    expect(sigs.failures ?? {}).toEqual({});
    const forgedRes = await ok(lena, '/signatures/upload', { [mo.userId]: { [moMaster.publicKey]: forged } });
    expect(forgedRes.failures[mo.userId][moMaster.publicKey].errcode).toBe('M_INVALID_SIGNATURE');
    const unknown = await ok(lena, '/signatures/upload', { [mo.userId]: { NOPE: { user_id: mo.userId, signatures: {} } } });
    expect(Object.keys(unknown.failures[mo.userId])).toEqual(['NOPE']);

    const q1 = await ok(mo, '/query', { device_keys: { [lena.userId]: [], [mo.userId]: [] } });
    const dev = q1.device_keys[lena.userId][lena.deviceId];
    expect(dev.signatures[lena.userId][`ed25519:${ssk.publicKey}`]).toBe(
      (deviceSig.signatures as Record<string, Record<string, string>>)[lena.userId]![`ed25519:${ssk.publicKey}`],
    );
    expect(dev.signatures[lena.userId][`ed25519:${lena.deviceId}`]).toBeDefined();
    // lena's signature on mo's master key is lena's business only
    expect(q1.master_keys[mo.userId].signatures?.[lena.userId]).toBeUndefined();
    const q2 = await ok(lena, '/query', { device_keys: { [mo.userId]: [] } });
    expect(q2.master_keys[mo.userId].signatures[lena.userId][`ed25519:${usk.publicKey}`]).toBeDefined();

    // device-list changes: lena's own signature concerns mo; the one on mo's key concerns lena only
    const to = await p.services.e2e.sync.deviceLists.currentPosition();
    expect((await call(p, mo, 'GET', `${K}/changes?from=${from}&to=${to}`)).body.changed).toEqual([lena.userId]);
    expect((await call(p, lena, 'GET', `${K}/changes?from=${from}&to=${to}`)).body.changed).toEqual([lena.userId, mo.userId].sort());

    // replacing the master key needs UIA (m.login.password)
    const master2 = ed25519();
    const replace = { master_key: crossSigningKey(lena.userId, 'master', master2) };
    const challenge = await call(p, lena, 'POST', upload, replace);
    expect(challenge.status).toBe(401);
    expect(challenge.body.flows).toEqual([{ stages: ['m.login.password'] }]);
    const wrong = await call(p, lena, 'POST', upload, {
      ...replace,
      auth: {
        type: 'm.login.password',
        identifier: { type: 'm.id.user', user: lena.userId },
        password: 'nope',
        session: challenge.body.session,
      },
    });
    expect(wrong.status).toBe(401);
    const done = await call(p, lena, 'POST', upload, {
      ...replace,
      auth: {
        type: 'm.login.password',
        identifier: { type: 'm.id.user', user: lena.userId },
        password: 'correct horse battery',
        session: challenge.body.session,
      },
    });
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    expect((await ok(mo, '/query', { device_keys: { [lena.userId]: [] } })).master_keys[lena.userId].keys).toEqual({
      [`ed25519:${master2.publicKey}`]: master2.publicKey,
    });
  });

  it('a self-signing key without any master key is M_MISSING_PARAM', async () => {
    const u = await makeUser(p, 'nomaster');
    const k = ed25519();
    const res = await call(p, u, 'POST', `${K}/device_signing/upload`, { self_signing_key: crossSigningKey(u.userId, 'self_signing', k) });
    expect(res).toMatchObject({ status: 400, body: { errcode: 'M_MISSING_PARAM' } });
  });
});

describe('bad input is a 4xx, never a 500', () => {
  let u: TestUser;
  beforeAll(async () => {
    u = await makeUser(p, 'badinput');
  });

  it('device_keys for another user or device, or unsigned, are 400', async () => {
    const d = deviceKeysOf(u);
    const otherUser = await call(p, u, 'POST', `${K}/upload`, { device_keys: { ...d.deviceKeys, user_id: `@eve:${SERVER_NAME}` } });
    expect(otherUser).toMatchObject({ status: 400, body: { errcode: 'M_INVALID_PARAM' } });
    const otherDevice = await call(p, u, 'POST', `${K}/upload`, { device_keys: { ...d.deviceKeys, device_id: 'OTHER' } });
    expect(otherDevice.status).toBe(400);
    const unsigned = await call(p, u, 'POST', `${K}/upload`, { device_keys: { ...d.deviceKeys, signatures: {} } });
    expect(unsigned.status).toBe(400);
    const twoFallbacks = await call(p, u, 'POST', `${K}/upload`, {
      fallback_keys: { 'signed_curve25519:a': { key: 'x', signatures: {} }, 'signed_curve25519:b': { key: 'y', signatures: {} } },
    });
    expect(twoFallbacks.status).toBe(400);
  });

  it('malformed bodies are M_BAD_JSON (or M_INVALID_PARAM for bad ids)', async () => {
    const cases: [string, string, unknown][] = [
      ['POST', `${K}/upload`, { one_time_keys: 'nope' }],
      ['POST', `${K}/upload`, { one_time_keys: { 'signed_curve25519:a': 42 } }],
      ['POST', `${K}/upload`, { device_keys: { user_id: u.userId } }],
      ['POST', `${K}/upload`, [1, 2]],
      ['POST', `${K}/query`, { device_keys: { [u.userId]: 'all' } }],
      ['POST', `${K}/claim`, { one_time_keys: { [u.userId]: ['x'] } }],
      ['POST', `${K}/device_signing/upload`, { master_key: 'x' }],
      ['POST', `${K}/signatures/upload`, { [u.userId]: { X: 'not an object' } }],
      ['PUT', '/_matrix/client/v3/sendToDevice/m.test/t1', { messages: { [u.userId]: { '*': 'text' } } }],
    ];
    for (const [method, url, body] of cases) {
      const res = await call(p, u, method as 'POST', url, body);
      expect(res.status, `${method} ${url} ${JSON.stringify(body)}`).toBe(400);
      expect(['M_BAD_JSON', 'M_MISSING_PARAM'], `${url}: ${res.body.errcode}`).toContain(res.body.errcode);
    }
    const badIds: [string, unknown][] = [
      [`${K}/upload`, { one_time_keys: { nocolon: { key: 'x', signatures: {} } } }],
      [`${K}/upload`, { one_time_keys: { ['a:\u0000']: { key: 'x', signatures: {} } } }],
      [`${K}/upload`, { one_time_keys: { [`a:${'x'.repeat(3000)}`]: { key: 'x', signatures: {} } } }],
      [`${K}/claim`, { one_time_keys: { [u.userId]: { ['D\u0000']: 'signed_curve25519' } } }],
      [`${K}/query`, { device_keys: { [u.userId]: ['\u0000'] } }],
      [`${K}/device_signing/upload`, { master_key: { user_id: `@x:${SERVER_NAME}`, usage: ['master'], keys: { 'ed25519:a': 'a' } } }],
      [`${K}/device_signing/upload`, { master_key: { user_id: u.userId, usage: ['master'], keys: { 'ed25519:a': 'b' } } }],
    ];
    for (const [url, body] of badIds) {
      const res = await call(p, u, 'POST', url, body);
      expect(res.status, `${url} ${JSON.stringify(body).slice(0, 80)}`).toBe(400);
    }
    const badToken = await call(p, u, 'GET', `${K}/changes?from=s1_2&to=3`);
    expect(badToken).toMatchObject({ status: 400, body: { errcode: 'M_INVALID_PARAM' } });
    const missingTo = await call(p, u, 'GET', `${K}/changes?from=1`);
    expect(missingTo.status).toBe(400);
    // signatures for odd targets land in failures, not errors
    const odd = await ok(u, '/signatures/upload', { 'not-a-user': { X: {} }, [`@x:${SERVER_NAME}`]: { ['\u0000']: {} } });
    expect(Object.keys(odd.failures ?? {}).length).toBeGreaterThan(0);
  });
});
