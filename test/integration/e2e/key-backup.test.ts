import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../../homeserver/platform.js';
import { buildPlatform, call, enc, makeUser, type TestUser } from '../../helpers/platform.js';
import { specValidator } from '../../helpers/openapi/spec-validator.js';

let p: Platform;
let alice: TestUser;
let bob: TestUser;
const spec = await specValidator();
const ALG = 'm.megolm_backup.v1.curve25519-aes-sha2';
const V = '/_matrix/client/v3/room_keys/version';
const K = '/_matrix/client/v3/room_keys/keys';
const ROOM = '!room:test.local';

/** Calls and validates the response against the spec, whatever the status. */
async function req(user: TestUser, method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown) {
  const res = await call(p, user, method, url, body);
  spec.assertResponse(method, url, res.status, res.body);
  return res;
}

const session = (first: number, forwarded: number, verified: boolean, tag = 'x') => ({
  first_message_index: first,
  forwarded_count: forwarded,
  is_verified: verified,
  session_data: { ephemeral: `e-${tag}`, ciphertext: `c-${tag}`, mac: `m-${tag}` },
});

beforeAll(async () => {
  p = await buildPlatform();
  alice = await makeUser(p, 'alice');
  bob = await makeUser(p, 'bob');
});
afterAll(() => p.close());

describe('key backup versions', () => {
  it('create, read, update and delete versions', async () => {
    const none = await req(alice, 'GET', V);
    expect(none).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND' } });

    const created = await req(alice, 'POST', V, { algorithm: ALG, auth_data: { public_key: 'pk1' } });
    expect(created).toMatchObject({ status: 200, body: { version: '1' } });
    const current = await req(alice, 'GET', V);
    expect(current.body).toEqual({ algorithm: ALG, auth_data: { public_key: 'pk1' }, count: 0, etag: '0', version: '1' });
    expect((await req(alice, 'GET', `${V}/1`)).body).toEqual(current.body);
    // r0 too, and another user sees none of it
    expect((await call(p, alice, 'GET', '/_matrix/client/r0/room_keys/version/1')).body.version).toBe('1');
    expect((await req(bob, 'GET', `${V}/1`)).status).toBe(404);

    expect((await req(alice, 'PUT', `${V}/1`, { algorithm: ALG, auth_data: { public_key: 'pk1b' }, version: '1' })).status).toBe(200);
    expect((await req(alice, 'GET', `${V}/1`)).body.auth_data).toEqual({ public_key: 'pk1b' });
    const wrongAlg = await req(alice, 'PUT', `${V}/1`, { algorithm: 'other', auth_data: {} });
    expect(wrongAlg).toMatchObject({ status: 400, body: { errcode: 'M_INVALID_PARAM' } });
    const wrongVersion = await req(alice, 'PUT', `${V}/1`, { algorithm: ALG, auth_data: {}, version: '7' });
    expect(wrongVersion).toMatchObject({ status: 400, body: { errcode: 'M_INVALID_PARAM' } });
    expect((await req(alice, 'PUT', `${V}/9`, { algorithm: ALG, auth_data: {} })).status).toBe(404);

    expect((await req(alice, 'POST', V, { algorithm: ALG, auth_data: { public_key: 'pk2' } })).body.version).toBe('2');
    expect((await req(alice, 'GET', V)).body.version).toBe('2');
    expect((await req(alice, 'DELETE', `${V}/2`)).status).toBe(200);
    expect((await req(alice, 'DELETE', `${V}/2`)).status).toBe(200); // already deleted: still fine
    expect((await req(alice, 'GET', `${V}/2`)).status).toBe(404);
    expect((await req(alice, 'GET', V)).body.version).toBe('1'); // the latest live version is current again
    expect((await req(alice, 'DELETE', `${V}/99`)).body.errcode).toBe('M_NOT_FOUND');
    expect((await req(alice, 'GET', `${V}/not-a-number`)).status).toBe(404);
    // version numbers are never reused
    expect((await req(alice, 'POST', V, { algorithm: ALG, auth_data: { public_key: 'pk3' } })).body.version).toBe('3');
  });
});

describe('backed-up sessions', () => {
  let version: string;
  beforeAll(async () => {
    version = (await req(bob, 'POST', V, { algorithm: ALG, auth_data: { public_key: 'bpk' } })).body.version;
  });
  const one = (roomId = ROOM, sessionId = 'sess1') => `${K}/${enc(roomId)}/${enc(sessionId)}?version=${version}`;

  it('keeps the better copy of a session: verified, then lower first_message_index, then lower forwarded_count', async () => {
    const put = async (data: ReturnType<typeof session>) => {
      const res = await req(bob, 'PUT', one(), data);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body as { etag: string; count: number };
    };
    const stored = async () => (await req(bob, 'GET', one())).body;

    const first = await put(session(5, 1, false, 'a'));
    expect(first).toEqual({ etag: '1', count: 1 });
    expect(await stored()).toEqual(session(5, 1, false, 'a'));

    expect(await put(session(6, 0, false, 'b'))).toEqual({ etag: '1', count: 1 }); // higher index: kept the old one
    expect(await put(session(5, 2, false, 'c'))).toEqual({ etag: '1', count: 1 }); // same index, more forwards: kept
    expect(await put(session(5, 1, false, 'd'))).toEqual({ etag: '1', count: 1 }); // a tie: the stored copy stays
    expect(await stored()).toEqual(session(5, 1, false, 'a'));

    expect(await put(session(5, 0, false, 'e'))).toEqual({ etag: '2', count: 1 }); // fewer forwards: replaced
    expect(await put(session(0, 3, false, 'f'))).toEqual({ etag: '3', count: 1 }); // lower index: replaced
    expect(await put(session(9, 9, true, 'g'))).toEqual({ etag: '4', count: 1 }); // verified beats unverified
    expect(await put(session(0, 0, false, 'h'))).toEqual({ etag: '4', count: 1 }); // unverified never beats verified
    expect(await stored()).toEqual(session(9, 9, true, 'g'));
    expect(await put(session(8, 9, true, 'i'))).toEqual({ etag: '5', count: 1 }); // both verified: lower index wins
    expect((await req(bob, 'GET', `${V}/${version}`)).body).toMatchObject({ etag: '5', count: 1 });
  });

  it('stores and reads many rooms, one room, one session; deletes at every level', async () => {
    const bulk = await req(bob, 'PUT', `${K}?version=${version}`, {
      rooms: {
        '!a:test.local': { sessions: { s1: session(0, 0, false), s2: session(1, 0, true) } },
        '!b:test.local': { sessions: { s3: session(2, 0, false) } },
      },
    });
    expect(bulk.status).toBe(200);
    expect(bulk.body.count).toBe(4);
    const byRoom = await req(bob, 'PUT', `${K}/${enc('!b:test.local')}?version=${version}`, { sessions: { s4: session(0, 0, false) } });
    expect(byRoom.body.count).toBe(5);

    const all = await req(bob, 'GET', `${K}?version=${version}`);
    expect(Object.keys(all.body.rooms).sort()).toEqual(['!a:test.local', '!b:test.local', ROOM]);
    expect(all.body.rooms['!a:test.local'].sessions.s2).toEqual(session(1, 0, true));
    const room = await req(bob, 'GET', `${K}/${enc('!b:test.local')}?version=${version}`);
    expect(Object.keys(room.body.sessions).sort()).toEqual(['s3', 's4']);
    expect((await req(bob, 'GET', `${K}/${enc('!none:test.local')}?version=${version}`)).body).toEqual({ sessions: {} });
    const missing = await req(bob, 'GET', one('!a:test.local', 'nope'));
    expect(missing).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND' } });

    const etag0 = Number((await req(bob, 'GET', `${V}/${version}`)).body.etag);
    const delOne = await req(bob, 'DELETE', one('!a:test.local', 's1'));
    expect(delOne.body).toEqual({ etag: String(etag0 + 1), count: 4 });
    expect((await req(bob, 'DELETE', `${K}/${enc('!b:test.local')}?version=${version}`)).body.count).toBe(2);
    expect((await req(bob, 'DELETE', `${K}?version=${version}`)).body.count).toBe(0);
    expect((await req(bob, 'GET', `${K}?version=${version}`)).body).toEqual({ rooms: {} });
  });

  it('writes go to the current version only; unknown versions are 404', async () => {
    const old = version;
    await req(bob, 'PUT', one(), session(0, 0, false));
    const newer = (await req(bob, 'POST', V, { algorithm: ALG, auth_data: { public_key: 'bpk2' } })).body.version;
    const stale = await req(bob, 'PUT', one(), session(0, 0, false));
    expect(stale).toMatchObject({ status: 403, body: { errcode: 'M_WRONG_ROOM_KEYS_VERSION', current_version: newer } });
    // the old version's keys stay readable until it is deleted
    expect((await req(bob, 'GET', `${K}?version=${old}`)).body.rooms[ROOM].sessions.sess1).toBeDefined();
    expect((await req(bob, 'GET', `${K}?version=999`)).body.errcode).toBe('M_NOT_FOUND');
    expect((await req(bob, 'GET', `${K}/${enc(ROOM)}?version=abc`)).status).toBe(404);
    expect((await req(bob, 'DELETE', `${K}?version=999`)).status).toBe(404);
    // deleting a version deletes its keys
    await req(bob, 'DELETE', `${V}/${old}`);
    expect((await req(bob, 'GET', `${K}?version=${old}`)).status).toBe(404);
    const { rows } = await p.db.query('SELECT count(*)::int AS n FROM hs_e2e_backup_sessions WHERE user_id = $1 AND version = $2', [
      bob.userId,
      Number(old),
    ]);
    expect(rows[0]!.n).toBe(0);
    // no backup at all: writes are 404
    await req(bob, 'DELETE', `${V}/${newer}`);
    expect((await call(p, bob, 'PUT', `${K}/${enc(ROOM)}/s?version=${newer}`, session(0, 0, false))).status).toBe(404);
  });

  it('rejects malformed input with 400', async () => {
    const v = (await req(alice, 'POST', V, { algorithm: ALG, auth_data: {} })).body.version;
    const cases: [string, string, unknown][] = [
      ['PUT', `${K}/${enc(ROOM)}/s?version=${v}`, { ...session(0, 0, false), first_message_index: '1' }],
      ['PUT', `${K}/${enc(ROOM)}/s?version=${v}`, { ...session(0, 0, false), first_message_index: 1.5 }],
      ['PUT', `${K}/${enc(ROOM)}/s?version=${v}`, { ...session(0, 0, false), forwarded_count: -1 }],
      ['PUT', `${K}/${enc(ROOM)}/s?version=${v}`, { ...session(0, 0, false), first_message_index: 2 ** 63 }],
      ['PUT', `${K}/${enc(ROOM)}/s?version=${v}`, { ...session(0, 0, false), session_data: 'x' }],
      ['PUT', `${K}?version=${v}`, { rooms: { [ROOM]: { sessions: [] } } }],
      ['PUT', `${K}/${enc(ROOM)}/s`, session(0, 0, false)],
      ['POST', V, { algorithm: ALG }],
      ['POST', V, { algorithm: ALG, auth_data: 'x' }],
      ['PUT', `${V}/${v}`, { algorithm: 5, auth_data: {} }],
      ['PUT', `${K}/${enc(ROOM)}/${enc('a\u0000b')}?version=${v}`, session(0, 0, false)],
      ['PUT', `${K}/${enc(ROOM)}/${'s'.repeat(900)}?version=${v}`, session(0, 0, false)],
    ];
    for (const [method, url, body] of cases) {
      const res = await call(p, alice, method as 'PUT', url, body);
      expect(res.status, `${method} ${url.slice(0, 80)} ${JSON.stringify(body)}`).toBe(400);
      expect(['M_BAD_JSON', 'M_MISSING_PARAM', 'M_INVALID_PARAM']).toContain(res.body.errcode);
    }
  });
});
