import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../../homeserver/platform.js';
import { DEFAULT_ROOM_VERSION } from '../../../homeserver/matrix/room-versions.js';
import { STREAM_TOPIC, type StreamWakeUp } from '../../../homeserver/services/sync/stream-source.js';
import { accountDataSource, getFilter } from '../../../homeserver/services/user-data/index.js';
import { specValidator } from '../../helpers/openapi/spec-validator.js';
import { buildPlatform, call, enc, makeUser, type TestUser } from '../../helpers/platform.js';

let p: Platform;
let alice: TestUser;
let bob: TestUser;
let roomId: string;
const spec = await specValidator();
const U = (u: TestUser, rest: string) => `/_matrix/client/v3/user/${enc(u.userId)}${rest}`;

beforeAll(async () => {
  p = await buildPlatform();
  alice = await makeUser(p, 'alice');
  bob = await makeUser(p, 'bob');
  roomId = (await call(p, alice, 'POST', '/_matrix/client/v3/createRoom', {})).body.room_id;
});
afterAll(() => p.close());

describe('global account data', () => {
  it('round-trips a type (v3 and r0 paths)', async () => {
    const url = U(alice, '/account_data/org.example.config');
    const put = await call(p, alice, 'PUT', url, { theme: 'dark', n: 1.5 });
    expect(put.status).toBe(200);
    spec.assertResponse('PUT', url, 200, put.body);
    const get = await call(p, alice, 'GET', url);
    expect(get).toMatchObject({ status: 200, body: { theme: 'dark', n: 1.5 } });
    spec.assertResponse('GET', url, 200, get.body);
    const r0 = await call(p, alice, 'GET', url.replace('/v3/', '/r0/'));
    expect(r0.body).toEqual({ theme: 'dark', n: 1.5 });
    await call(p, alice, 'PUT', url, { theme: 'light' });
    expect((await call(p, alice, 'GET', url)).body).toEqual({ theme: 'light' });
  });

  it('unknown types are 404, other users are 403', async () => {
    const missing = await call(p, alice, 'GET', U(alice, '/account_data/org.example.never'));
    expect(missing).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND' } });
    spec.assertResponse('GET', U(alice, '/account_data/org.example.never'), 404, missing.body);
    const put = await call(p, bob, 'PUT', U(alice, '/account_data/org.example.config'), { x: 1 });
    expect(put).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });
    spec.assertResponse('PUT', U(alice, '/account_data/org.example.config'), 403, put.body);
    const get = await call(p, bob, 'GET', U(alice, '/account_data/org.example.config'));
    expect(get).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });
  });

  it('refuses bodies that are not JSON objects', async () => {
    const arr = await call(p, alice, 'PUT', U(alice, '/account_data/org.example.x'), [1, 2]);
    expect(arr).toMatchObject({ status: 400, body: { errcode: 'M_BAD_JSON' } });
    spec.assertResponse('PUT', U(alice, '/account_data/org.example.x'), 400, arr.body);
    const res = await p.app.inject({ method: 'PUT', url: U(alice, '/account_data/org.example.x'), headers: alice.auth, payload: '{nope' });
    expect(res.statusCode).toBe(400);
    expect(res.json().errcode).toBe('M_NOT_JSON');
  });

  it('m.push_rules and m.fully_read are server-managed: 405 M_BAD_JSON, but readable', async () => {
    for (const url of [U(alice, '/account_data/m.push_rules'), U(alice, `/rooms/${enc(roomId)}/account_data/m.fully_read`)]) {
      const res = await call(p, alice, 'PUT', url, { global: {} });
      expect(res).toMatchObject({ status: 405, body: { errcode: 'M_BAD_JSON' } });
      spec.assertResponse('PUT', url, 405, res.body);
    }
    const rules = await call(p, alice, 'GET', U(alice, '/account_data/m.push_rules'));
    expect(rules.status).toBe(200);
    expect(rules.body.global.override[0].rule_id).toBe('.m.rule.master');
  });
});

describe('room account data and tags', () => {
  it('round-trips per-room data, separate from global data', async () => {
    const url = U(alice, `/rooms/${enc(roomId)}/account_data/org.example.room`);
    const put = await call(p, alice, 'PUT', url, { pinned: true });
    spec.assertResponse('PUT', url, 200, put.body);
    const get = await call(p, alice, 'GET', url);
    expect(get.body).toEqual({ pinned: true });
    spec.assertResponse('GET', url, 200, get.body);
    expect((await call(p, alice, 'GET', U(alice, '/account_data/org.example.room'))).status).toBe(404);
    expect((await call(p, bob, 'GET', url)).status).toBe(403);
  });

  it('rejects invalid room ids with M_INVALID_PARAM', async () => {
    const url = U(alice, '/rooms/not-a-room/account_data/org.example.room');
    const res = await call(p, alice, 'PUT', url, { a: 1 });
    expect(res).toMatchObject({ status: 400, body: { errcode: 'M_INVALID_PARAM' } });
    spec.assertResponse('PUT', url, 400, res.body);
    const get = await call(p, alice, 'GET', url);
    expect(get).toMatchObject({ status: 400, body: { errcode: 'M_INVALID_PARAM' } });
    spec.assertResponse('GET', url, 400, get.body);
  });

  it('tags are added, listed and removed, and live in m.tag', async () => {
    const tags = U(alice, `/rooms/${enc(roomId)}/tags`);
    const empty = await call(p, alice, 'GET', tags);
    expect(empty.body).toEqual({ tags: {} });
    spec.assertResponse('GET', tags, 200, empty.body);
    const put = await call(p, alice, 'PUT', `${tags}/m.favourite`, { order: 0.25 });
    spec.assertResponse('PUT', `${tags}/m.favourite`, 200, put.body);
    await call(p, alice, 'PUT', `${tags}/u.work`, {});
    const listed = await call(p, alice, 'GET', tags);
    expect(listed.body).toEqual({ tags: { 'm.favourite': { order: 0.25 }, 'u.work': {} } });
    spec.assertResponse('GET', tags, 200, listed.body);
    const mtag = await call(p, alice, 'GET', U(alice, `/rooms/${enc(roomId)}/account_data/m.tag`));
    expect(mtag.body).toEqual({ tags: { 'm.favourite': { order: 0.25 }, 'u.work': {} } });
    const del = await call(p, alice, 'DELETE', `${tags}/u.work`);
    spec.assertResponse('DELETE', `${tags}/u.work`, 200, del.body);
    expect((await call(p, alice, 'GET', tags)).body).toEqual({ tags: { 'm.favourite': { order: 0.25 } } });
  });

  it('tags of others are refused and bad tag bodies are M_BAD_JSON', async () => {
    const tags = U(alice, `/rooms/${enc(roomId)}/tags`);
    expect((await call(p, bob, 'GET', tags)).status).toBe(403);
    expect((await call(p, bob, 'PUT', `${tags}/u.x`, {})).status).toBe(403);
    expect((await call(p, bob, 'DELETE', `${tags}/m.favourite`)).status).toBe(403);
    expect(await call(p, alice, 'PUT', `${tags}/u.x`, { order: 'first' })).toMatchObject({ status: 400, body: { errcode: 'M_BAD_JSON' } });
  });
});

describe('filters', () => {
  const filter = {
    event_fields: ['type', 'content.body'],
    presence: { not_types: ['*'] },
    room: { timeline: { limit: 20, types: ['m.room.message'], senders: ['@alice:test.local'] }, state: { lazy_load_members: true } },
    'org.example.unknown': true,
  };

  it('uploads and downloads a filter; identical filters share an id', async () => {
    const res = await call(p, alice, 'POST', U(alice, '/filter'), filter);
    expect(res.status).toBe(200);
    spec.assertResponse('POST', U(alice, '/filter'), 200, res.body);
    expect(typeof res.body.filter_id).toBe('string');
    expect(res.body.filter_id).not.toContain('{');
    const again = await call(p, alice, 'POST', U(alice, '/filter'), filter);
    expect(again.body.filter_id).toBe(res.body.filter_id);
    const get = await call(p, alice, 'GET', U(alice, `/filter/${res.body.filter_id}`));
    expect(get.body).toEqual(filter);
    spec.assertResponse('GET', U(alice, `/filter/${res.body.filter_id}`), 200, get.body);
    expect(await getFilter(p.services.userData, alice.userId, res.body.filter_id)).toEqual(filter);
    expect(await getFilter(p.services.userData, bob.userId, res.body.filter_id)).toBeUndefined();
  });

  it('the stored filter works in /sync', async () => {
    const id = (await call(p, alice, 'POST', U(alice, '/filter'), { room: { timeline: { limit: 1 } } })).body.filter_id;
    const res = await call(p, alice, 'GET', `/_matrix/client/v3/sync?filter=${id}`);
    expect(res.status).toBe(200);
  });

  it('refuses bad shapes (M_BAD_JSON), bad values (M_INVALID_PARAM), other users (403), unknown ids (404)', async () => {
    for (const bad of [
      { room: { timeline: { limit: 'ten' } } },
      { event_format: 'xml' },
      { presence: { types: 'm.presence' } },
      { room: [] },
    ]) {
      expect(await call(p, alice, 'POST', U(alice, '/filter'), bad)).toMatchObject({ status: 400, body: { errcode: 'M_BAD_JSON' } });
    }
    for (const bad of [{ room: { timeline: { limit: -1 } } }, { room: { rooms: ['not-a-room'] } }, { presence: { senders: ['bob'] } }]) {
      expect(await call(p, alice, 'POST', U(alice, '/filter'), bad)).toMatchObject({ status: 400, body: { errcode: 'M_INVALID_PARAM' } });
    }
    expect((await call(p, bob, 'POST', U(alice, '/filter'), {})).status).toBe(403);
    const id = (await call(p, alice, 'POST', U(alice, '/filter'), {})).body.filter_id;
    expect((await call(p, bob, 'GET', U(alice, `/filter/${id}`))).status).toBe(403);
    expect(await call(p, bob, 'GET', U(bob, `/filter/${id}`))).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND' } });
    expect((await call(p, alice, 'GET', U(alice, '/filter/999999'))).status).toBe(404);
    expect((await call(p, alice, 'GET', U(alice, '/filter/abc'))).status).toBe(404);
    spec.assertResponse('GET', U(alice, '/filter/999999'), 404, (await call(p, alice, 'GET', U(alice, '/filter/999999'))).body);
  });
});

describe('capabilities', () => {
  it('advertises password change, room versions and profile changes', async () => {
    const res = await call(p, alice, 'GET', '/_matrix/client/v3/capabilities');
    spec.assertResponse('GET', '/_matrix/client/v3/capabilities', 200, res.body);
    expect(res.body.capabilities).toEqual({
      'm.change_password': { enabled: true },
      'm.room_versions': { default: DEFAULT_ROOM_VERSION, available: { '10': 'stable', '11': 'stable' } },
      'm.set_displayname': { enabled: true },
      'm.set_avatar_url': { enabled: true },
      'm.3pid_changes': { enabled: false },
    });
    expect((await call(p, undefined, 'GET', '/_matrix/client/r0/capabilities')).status).toBe(401);
  });
});

describe('account_data stream source', () => {
  it('returns the latest value of each type changed in (from, to], the full set for from = 0', async () => {
    const carol = await makeUser(p, 'carol');
    const source = accountDataSource(p.services.userData);
    expect(source.name).toBe('account_data');
    const wakes: StreamWakeUp[] = [];
    const unsubscribe = await p.runtime.pubsub.subscribe(STREAM_TOPIC, (m) => wakes.push(m as StreamWakeUp));

    const p0 = await source.currentPosition();
    await call(p, carol, 'PUT', U(carol, '/account_data/a'), { v: 1 });
    const p1 = await source.currentPosition();
    await call(p, carol, 'PUT', U(carol, '/account_data/b'), { v: 1 });
    await call(p, carol, 'PUT', U(carol, '/account_data/a'), { v: 2 });
    await call(p, carol, 'PUT', U(carol, `/rooms/${enc(roomId)}/tags/u.x`), {});
    const p2 = await source.currentPosition();
    expect(p1).toBeGreaterThan(p0);
    expect(p2).toBeGreaterThan(p1);

    const initial = await source.sectionFor(carol.userId, carol.deviceId, 0, p2, { joined: [] });
    expect(initial!.global.map((e) => e.type).sort()).toEqual(['a', 'b', 'm.push_rules']);
    expect(initial!.global.find((e) => e.type === 'a')!.content).toEqual({ v: 2 });
    expect(initial!.rooms).toEqual({ [roomId]: [{ type: 'm.tag', content: { tags: { 'u.x': {} } } }] });

    const first = await source.sectionFor(carol.userId, carol.deviceId, p0, p1, { joined: [] });
    // Only a changed in (p0, p1], and already with its latest value: a row keeps the newest content.
    expect(first).toBeUndefined();
    const later = await source.sectionFor(carol.userId, carol.deviceId, p1, p2, { joined: [] });
    expect(later!.global).toEqual([
      { type: 'b', content: { v: 1 } },
      { type: 'a', content: { v: 2 } },
    ]);
    expect(await source.sectionFor(carol.userId, carol.deviceId, p2, p2, { joined: [] })).toBeUndefined();
    // Another user's changes are not in carol's section.
    expect(await source.sectionFor(bob.userId, bob.deviceId, p1, p2, { joined: [] })).toBeUndefined();

    // Each commit woke carol's syncs.
    await new Promise((r) => setTimeout(r, 20));
    await unsubscribe();
    const mine = wakes.filter((w) => w.stream === 'account_data' && w.userIds?.includes(carol.userId));
    expect(mine.length).toBe(4);
    expect(Math.max(...mine.map((w) => w.position))).toBe(p2);
  });

  it('account data and tags reach the client through /sync', async () => {
    const dave = await makeUser(p, 'dave');
    const room = (await call(p, dave, 'POST', '/_matrix/client/v3/createRoom', {})).body.room_id;
    const first = await call(p, dave, 'GET', '/_matrix/client/v3/sync');
    expect(first.body.account_data.events.map((e: { type: string }) => e.type)).toContain('m.push_rules');
    await call(p, dave, 'PUT', U(dave, '/account_data/org.example.sync'), { ok: true });
    await call(p, dave, 'PUT', U(dave, `/rooms/${enc(room)}/tags/m.lowpriority`), {});
    const next = await call(p, dave, 'GET', `/_matrix/client/v3/sync?since=${first.body.next_batch}`);
    expect(next.body.account_data.events).toEqual([{ type: 'org.example.sync', content: { ok: true } }]);
    expect(next.body.rooms.join[room].account_data.events).toEqual([{ type: 'm.tag', content: { tags: { 'm.lowpriority': {} } } }]);
  });
});
