import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPlatform, type Platform } from '../../../homeserver/platform.js';
import { createLogger } from '../../../homeserver/runtime/logger.js';
import { openDb } from '../../../homeserver/storage/db.js';
import { specValidator } from '../../helpers/openapi/spec-validator.js';
import { freshSchemaDb, TEST_DATABASE_URL } from '../../helpers/database.js';
import { buildPlatform, call, enc, makeUser, testConfig, type TestUser } from '../../helpers/platform.js';

/**
 * Presence idle timers: online → unavailable after idle_after_ms without activity, → offline after
 * offline_after_ms without a client. Timer tests use millisecond timeouts and poll for the outcome
 * (no timed assertions); the exact edges are tested by sweeping at a chosen `now`.
 */

const spec = await specValidator();
const S = (u: TestUser) => `/_matrix/client/v3/presence/${enc(u.userId)}/status`;
type PresenceEvt = { sender: string; content: { presence: string; currently_active?: boolean; last_active_ago?: number } };

/** Polls `fn` until it returns a value (not undefined); fails after `ms`. */
async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Syncs `viewer` forward from `since` until a presence event of `subject` in `state` shows up. */
async function syncUntilPresence(p: Platform, viewer: TestUser, since: string, subject: TestUser, state: string) {
  let token = since;
  return waitFor(`${subject.userId} ${state} in ${viewer.userId}'s sync`, async () => {
    const res = await call(p, viewer, 'GET', `/_matrix/client/v3/sync?since=${token}&timeout=200`);
    token = res.body.next_batch;
    const evt = (res.body.presence?.events as PresenceEvt[] | undefined)?.find((e) => e.sender === subject.userId);
    return evt?.content.presence === state ? { event: evt, since: token } : undefined;
  });
}

async function pair(p: Platform, a: string, b: string): Promise<[TestUser, TestUser]> {
  const alice = await makeUser(p, a);
  const bob = await makeUser(p, b);
  const room = (await call(p, alice, 'POST', '/_matrix/client/v3/createRoom', { invite: [bob.userId] })).body.room_id;
  await call(p, bob, 'POST', `/_matrix/client/v3/rooms/${enc(room)}/join`, {});
  return [alice, bob];
}

describe('idle → unavailable (idle_after_ms: 300)', () => {
  let p: Platform;
  let alice: TestUser;
  let bob: TestUser;
  let room: string;
  beforeAll(async () => {
    p = await buildPlatform({ presence: { idle_after_ms: 300, offline_after_ms: 600_000 } });
    [alice, bob] = await pair(p, 'alice', 'bob');
    room = (await call(p, alice, 'GET', '/_matrix/client/v3/joined_rooms')).body.joined_rooms[0];
  });
  afterAll(() => p.close());

  it('an online user who goes quiet becomes unavailable, and other users sync the change', async () => {
    const first = await call(p, bob, 'GET', '/_matrix/client/v3/sync');
    await call(p, alice, 'PUT', S(alice), { presence: 'online' });
    const { event, since } = await syncUntilPresence(p, bob, first.body.next_batch, alice, 'unavailable');
    expect(event.content.currently_active).toBeUndefined(); // only reported while online
    expect(event.content.last_active_ago).toBeGreaterThanOrEqual(300);
    const own = await call(p, alice, 'GET', S(alice));
    expect(own.body).toMatchObject({ presence: 'unavailable' });
    spec.assertResponse('GET', S(alice), 200, own.body);

    // Syncing is not activity: an idle user's client syncing "online" does not bring them back...
    await call(p, alice, 'GET', '/_matrix/client/v3/sync?set_presence=online');
    expect((await call(p, alice, 'GET', S(alice))).body.presence).toBe('unavailable');

    // ...but sending a message does, with currently_active and a fresh last_active_ago.
    const sent = await call(p, alice, 'PUT', `/_matrix/client/v3/rooms/${enc(room)}/send/m.room.message/t1`, {
      msgtype: 'm.text',
      body: 'hi',
    });
    expect(sent.status).toBe(200);
    const back = await syncUntilPresence(p, bob, since, alice, 'online');
    expect(back.event.content.currently_active).toBe(true);
    // ...and then goes idle again.
    await syncUntilPresence(p, bob, back.since, alice, 'unavailable');
  });

  it('users who never set presence, or are offline, are left alone by activity and timers', async () => {
    const quiet = await makeUser(p, 'quiet');
    const r = (await call(p, quiet, 'POST', '/_matrix/client/v3/createRoom', {})).body.room_id;
    await call(p, quiet, 'PUT', `/_matrix/client/v3/rooms/${enc(r)}/send/m.room.message/t1`, { msgtype: 'm.text', body: 'x' });
    expect((await call(p, quiet, 'GET', S(quiet))).body).toEqual({ presence: 'offline' });
    await call(p, quiet, 'PUT', S(quiet), { presence: 'offline' });
    await call(p, quiet, 'PUT', `/_matrix/client/v3/rooms/${enc(r)}/send/m.room.message/t2`, { msgtype: 'm.text', body: 'y' });
    expect((await call(p, quiet, 'GET', S(quiet))).body.presence).toBe('offline');
  });
});

describe('no client → offline (offline_after_ms: 300)', () => {
  let p: Platform;
  let alice: TestUser;
  let bob: TestUser;
  beforeAll(async () => {
    p = await buildPlatform({ presence: { idle_after_ms: 600_000, offline_after_ms: 300 } });
    [alice, bob] = await pair(p, 'alice', 'bob');
  });
  afterAll(() => p.close());

  it('a user whose syncs stop goes offline; syncing again brings them online', async () => {
    const first = await call(p, bob, 'GET', '/_matrix/client/v3/sync');
    await call(p, alice, 'GET', '/_matrix/client/v3/sync?set_presence=online');
    const online = await syncUntilPresence(p, bob, first.body.next_batch, alice, 'online');
    expect(online.event.content.currently_active).toBe(true);
    const offline = await syncUntilPresence(p, bob, online.since, alice, 'offline');
    expect((await call(p, bob, 'GET', S(alice))).body.presence).toBe('offline');
    await call(p, alice, 'GET', '/_matrix/client/v3/sync?set_presence=online');
    await syncUntilPresence(p, bob, offline.since, alice, 'online');
  });

  it('unavailable users without a client go offline too; set_presence=offline syncs do not keep anyone online', async () => {
    const first = await call(p, bob, 'GET', '/_matrix/client/v3/sync');
    await call(p, alice, 'PUT', S(alice), { presence: 'unavailable', status_msg: 'away' });
    const gone = await syncUntilPresence(p, bob, first.body.next_batch, alice, 'offline');
    await call(p, alice, 'GET', '/_matrix/client/v3/sync?set_presence=offline');
    expect((await call(p, alice, 'GET', S(alice))).body.presence).toBe('offline');
    expect(gone.event.content).toMatchObject({ presence: 'offline' });
  });
});

describe('sweeps at a chosen time, and in a cluster', () => {
  let p1: Platform;
  let p2: Platform;
  let alice: TestUser;
  let bob: TestUser;
  let closeDb2: () => Promise<void>;
  let closeDb1: () => Promise<void>;
  const OFFLINE = 30_000;
  const IDLE = 300_000;

  beforeAll(async () => {
    // Two "processes" over one schema, each with its own pool and its own sweeper (default timeouts,
    // so their timers never fire during the test and every sweep below is explicit).
    const config = testConfig();
    const db1 = await freshSchemaDb();
    const db2 = await openDb({ connection: { connectionString: TEST_DATABASE_URL }, poolSize: 5, schema: db1.schema });
    closeDb1 = () => db1.close();
    closeDb2 = () => db2.close();
    p1 = await createPlatform({ config, db: db1, log: createLogger('silent') });
    p2 = await createPlatform({ config, db: db2, log: createLogger('silent') });
    [alice, bob] = await pair(p1, 'alice', 'bob');
  });
  afterAll(async () => {
    await p1.close();
    await p2.close();
    await closeDb2();
    await closeDb1();
  });

  const presenceOf = async (p: Platform, u: TestUser) => (await call(p, bob, 'GET', S(u))).body.presence as string;

  it('a long-polling client counts as present until its poll ends', async () => {
    const t0 = Date.now();
    await call(p1, alice, 'GET', '/_matrix/client/v3/sync?set_presence=online&timeout=0');
    // What a 60 s long poll started now records (the sync route passes its timeout along).
    await p1.services.userData.presence.setFromSync(alice.userId, 'online', 60_000);
    const sweeper = p1.services.userData.presence.sweeper;
    await sweeper.sweep(t0 + 60_000 + OFFLINE - 1_000); // (currently_active lapses here, nothing else)
    expect(await presenceOf(p1, alice)).toBe('online');
    expect(await sweeper.sweep(Date.now() + 60_000 + OFFLINE + 1_000)).toContain(alice.userId);
    expect(await presenceOf(p1, alice)).toBe('offline');
  });

  it('two sweepers racing write each transition once', async () => {
    const now = Date.now();
    await call(p1, alice, 'PUT', S(alice), { presence: 'online' });
    await call(p1, bob, 'PUT', S(bob), { presence: 'online' });
    const source = p1.services.userData.presence;
    const before = await source.currentPosition();

    // Idle for IDLE ms (a client still syncing, so not offline): unavailable, written once.
    await p1.services.userData.presence.setFromSync(alice.userId, 'online', IDLE * 2);
    await p1.services.userData.presence.setFromSync(bob.userId, 'online', IDLE * 2);
    const at = now + IDLE + 70_000;
    const [a, b] = await Promise.all([source.sweeper.sweep(at), p2.services.userData.presence.sweeper.sweep(at)]);
    expect([...a, ...b].sort()).toEqual([alice.userId, bob.userId].sort());
    expect(await source.currentPosition()).toBe(before + 2);
    expect(await presenceOf(p2, alice)).toBe('unavailable');

    // Far in the future, nobody is there any more: offline, again once.
    const later = now + IDLE * 10;
    const [c, d] = await Promise.all([p2.services.userData.presence.sweeper.sweep(later), source.sweeper.sweep(later)]);
    expect([...c, ...d].sort()).toEqual([alice.userId, bob.userId].sort());
    expect(await source.currentPosition()).toBe(before + 4);
    expect(await source.sweeper.sweep(later)).toEqual([]);
    expect(await presenceOf(p1, bob)).toBe('offline');
  });

  it('currently_active lapses after the active window while staying online', async () => {
    const now = Date.now();
    await call(p1, alice, 'PUT', S(alice), { presence: 'online' });
    await p1.services.userData.presence.setFromSync(alice.userId, 'online', IDLE * 2);
    expect((await call(p1, bob, 'GET', S(alice))).body.currently_active).toBe(true);
    expect(await p2.services.userData.presence.sweeper.sweep(now + 61_000)).toEqual([alice.userId]);
    expect((await call(p1, bob, 'GET', S(alice))).body).toMatchObject({ presence: 'online', currently_active: false });
  });
});
