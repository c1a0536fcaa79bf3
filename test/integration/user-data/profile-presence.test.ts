import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../../homeserver/platform.js';
import { STREAM_TOPIC, type StreamWakeUp } from '../../../homeserver/services/sync/stream-source.js';
import { presenceSource, setPresenceFromSync } from '../../../homeserver/services/user-data/index.js';
import { specValidator } from '../../helpers/openapi/spec-validator.js';
import { buildPlatform, call, enc, makeUser, SERVER_NAME, type TestUser } from '../../helpers/platform.js';

let p: Platform;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;
let shared: string;
const spec = await specValidator();
const P = (u: TestUser | string, rest = '') => `/_matrix/client/v3/profile/${enc(typeof u === 'string' ? u : u.userId)}${rest}`;
const S = (u: TestUser | string) => `/_matrix/client/v3/presence/${enc(typeof u === 'string' ? u : u.userId)}/status`;

beforeAll(async () => {
  p = await buildPlatform();
  alice = await makeUser(p, 'alice');
  bob = await makeUser(p, 'bob');
  carol = await makeUser(p, 'carol');
  // alice and bob share a room; carol shares nothing with them.
  shared = (await call(p, alice, 'POST', '/_matrix/client/v3/createRoom', { invite: [bob.userId] })).body.room_id;
  await call(p, bob, 'POST', `/_matrix/client/v3/rooms/${enc(shared)}/join`, {});
});
afterAll(() => p.close());

describe('profile', () => {
  it('reads profiles, whole and by field', async () => {
    const res = await call(p, bob, 'GET', P(alice));
    expect(res).toMatchObject({ status: 200, body: { displayname: 'alice' } });
    spec.assertResponse('GET', P(alice), 200, res.body);
    const name = await call(p, undefined, 'GET', P(alice, '/displayname'));
    expect(name.body).toEqual({ displayname: 'alice' });
    spec.assertResponse('GET', P(alice, '/displayname'), 200, name.body);
    expect((await call(p, undefined, 'GET', P(alice, '/avatar_url').replace('/v3/', '/r0/'))).body).toEqual({});
  });

  it('unknown users are 404 M_NOT_FOUND', async () => {
    for (const url of [P(`@ghost:${SERVER_NAME}`), P(`@ghost:${SERVER_NAME}`, '/displayname'), P('@x:elsewhere.example', '/avatar_url')]) {
      const res = await call(p, alice, 'GET', url);
      expect(res).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND' } });
      spec.assertResponse('GET', url, 404, res.body);
    }
  });

  it('a change is sent into every joined room as a new member event', async () => {
    const second = (await call(p, alice, 'POST', '/_matrix/client/v3/createRoom', { preset: 'public_chat' })).body.room_id;
    const left = (await call(p, alice, 'POST', '/_matrix/client/v3/createRoom', {})).body.room_id;
    await call(p, alice, 'POST', `/_matrix/client/v3/rooms/${enc(left)}/leave`, {});

    const put = await call(p, alice, 'PUT', P(alice, '/displayname'), { displayname: 'Alice L.' });
    expect(put.status).toBe(200);
    spec.assertResponse('PUT', P(alice, '/displayname'), 200, put.body);
    const avatar = await call(p, alice, 'PUT', P(alice, '/avatar_url'), { avatar_url: 'mxc://test.local/abc' });
    spec.assertResponse('PUT', P(alice, '/avatar_url'), 200, avatar.body);
    expect((await call(p, bob, 'GET', P(alice))).body).toEqual({ displayname: 'Alice L.', avatar_url: 'mxc://test.local/abc' });

    for (const roomId of [shared, second]) {
      const member = await call(
        p,
        alice,
        'GET',
        `/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.member/${enc(alice.userId)}?format=event`,
      );
      expect(member.body.content).toEqual({ membership: 'join', displayname: 'Alice L.', avatar_url: 'mxc://test.local/abc' });
      expect(member.body.unsigned.prev_content.membership).toBe('join');
      const msgs = await call(p, alice, 'GET', `/_matrix/client/v3/rooms/${enc(roomId)}/messages?dir=b&limit=2`);
      expect(msgs.body.chunk.map((e: { type: string; content: { displayname?: string } }) => [e.type, e.content.displayname])).toEqual([
        ['m.room.member', 'Alice L.'],
        ['m.room.member', 'Alice L.'],
      ]);
    }
    const stillLeft = await call(p, alice, 'GET', `/_matrix/client/v3/rooms/${enc(left)}/members`);
    const leftMember = stillLeft.body.chunk.find((e: { state_key: string }) => e.state_key === alice.userId);
    expect(leftMember.content).toEqual({ membership: 'leave' });

    // Clearing a field removes it from the member events too.
    expect((await call(p, alice, 'DELETE', P(alice, '/avatar_url'))).status).toBe(200);
    const member = await call(p, alice, 'GET', `/_matrix/client/v3/rooms/${enc(shared)}/state/m.room.member/${enc(alice.userId)}`);
    expect(member.body).toEqual({ membership: 'join', displayname: 'Alice L.' });
    // Joining afterwards uses the new profile.
    const joined = await call(p, carol, 'POST', `/_matrix/client/v3/join/${enc(second)}`, {});
    expect(joined.status).toBe(200);
    await call(p, carol, 'POST', `/_matrix/client/v3/rooms/${enc(second)}/leave`, {});
  });

  it('only your own profile, with valid values', async () => {
    const other = await call(p, bob, 'PUT', P(alice, '/displayname'), { displayname: 'Mallory' });
    expect(other).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });
    spec.assertResponse('PUT', P(alice, '/displayname'), 403, other.body);
    expect((await call(p, bob, 'DELETE', P(alice, '/displayname'))).status).toBe(403);
    const missing = await call(p, bob, 'PUT', P(bob, '/displayname'), { name: 'x' });
    expect(missing).toMatchObject({ status: 400, body: { errcode: 'M_MISSING_PARAM' } });
    spec.assertResponse('PUT', P(bob, '/displayname'), 400, missing.body);
    expect(await call(p, bob, 'PUT', P(bob, '/displayname'), { displayname: 5 })).toMatchObject({
      status: 400,
      body: { errcode: 'M_BAD_JSON' },
    });
    expect(await call(p, bob, 'PUT', P(bob, '/displayname'), { displayname: 'x'.repeat(300) })).toMatchObject({ status: 400 });
    expect(await call(p, bob, 'PUT', P(bob, '/avatar_url'), { avatar_url: 'https://evil.example/a.png' })).toMatchObject({
      status: 400,
      body: { errcode: 'M_INVALID_PARAM' },
    });
    expect((await call(p, undefined, 'PUT', P(bob, '/displayname'), { displayname: 'x' })).status).toBe(401);
  });
});

describe('presence', () => {
  it('set and get your own presence; users sharing a room can see it', async () => {
    const put = await call(p, alice, 'PUT', S(alice), { presence: 'unavailable', status_msg: 'lunch' });
    expect(put.status).toBe(200);
    spec.assertResponse('PUT', S(alice), 200, put.body);
    const own = await call(p, alice, 'GET', S(alice));
    expect(own.body).toMatchObject({ presence: 'unavailable', status_msg: 'lunch' });
    expect(typeof own.body.last_active_ago).toBe('number');
    spec.assertResponse('GET', S(alice), 200, own.body);
    const seen = await call(p, bob, 'GET', S(alice));
    expect(seen.body).toMatchObject({ presence: 'unavailable', status_msg: 'lunch' });
    await call(p, alice, 'PUT', S(alice).replace('/v3/', '/r0/'), { presence: 'online' });
    const online = await call(p, bob, 'GET', S(alice));
    expect(online.body).toMatchObject({ presence: 'online', currently_active: true });
    expect(online.body.status_msg).toBeUndefined();
    // someone who never set presence is offline
    expect((await call(p, alice, 'GET', S(bob))).body).toEqual({ presence: 'offline' });
  });

  it('strangers get 403, unknown users 404, others cannot set it, bad bodies are M_BAD_JSON', async () => {
    const stranger = await call(p, carol, 'GET', S(alice));
    expect(stranger).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });
    spec.assertResponse('GET', S(alice), 403, stranger.body);
    const unknown = await call(p, alice, 'GET', S(`@ghost:${SERVER_NAME}`));
    expect(unknown).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND' } });
    spec.assertResponse('GET', S(`@ghost:${SERVER_NAME}`), 404, unknown.body);
    expect(await call(p, bob, 'PUT', S(alice), { presence: 'offline' })).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });
    expect(await call(p, alice, 'PUT', S(alice), { presence: 'asleep' })).toMatchObject({ status: 400, body: { errcode: 'M_BAD_JSON' } });
    expect(await call(p, alice, 'PUT', S(alice), { status_msg: 'hi' })).toMatchObject({
      status: 400,
      body: { errcode: 'M_MISSING_PARAM' },
    });
  });

  it('the presence stream returns changes in (from, to] of users sharing a room', async () => {
    const source = presenceSource(p.services.userData);
    expect(source.name).toBe('presence');
    const wakes: StreamWakeUp[] = [];
    const unsubscribe = await p.runtime.pubsub.subscribe(STREAM_TOPIC, (m) => wakes.push(m as StreamWakeUp));
    const p0 = await source.currentPosition();
    await call(p, bob, 'PUT', S(bob), { presence: 'online', status_msg: 'here' });
    const p1 = await source.currentPosition();
    await call(p, carol, 'PUT', S(carol), { presence: 'online' });
    await call(p, alice, 'PUT', S(alice), { presence: 'unavailable' });
    const p2 = await source.currentPosition();
    expect(p1).toBeGreaterThan(p0);
    expect(p2).toBeGreaterThan(p1);
    const joined = { joined: [shared] };

    const first = await source.sectionFor(alice.userId, alice.deviceId, p0, p1, joined);
    expect(first!.events).toHaveLength(1);
    expect(first!.events[0]).toMatchObject({
      type: 'm.presence',
      sender: bob.userId,
      content: { presence: 'online', status_msg: 'here', displayname: 'bob' },
    });
    const second = await source.sectionFor(alice.userId, alice.deviceId, p1, p2, joined);
    // carol shares no room with alice; alice's own change is included
    expect(second!.events.map((e) => [e.sender, e.content.presence])).toEqual([[alice.userId, 'unavailable']]);
    expect(await source.sectionFor(alice.userId, alice.deviceId, p2, p2, joined)).toBeUndefined();
    const initial = await source.sectionFor(alice.userId, alice.deviceId, 0, p2, joined);
    expect(initial!.events.map((e) => e.sender).sort()).toEqual([alice.userId, bob.userId].sort());
    const forCarol = await source.sectionFor(carol.userId, carol.deviceId, p0, p2, { joined: [] });
    expect(forCarol!.events.map((e) => e.sender)).toEqual([carol.userId]);

    await new Promise((r) => setTimeout(r, 20));
    await unsubscribe();
    const bobsWake = wakes.find((w) => w.stream === 'presence' && w.position === p1)!;
    expect(bobsWake.userIds!.sort()).toEqual([alice.userId, bob.userId].sort());
  });

  it('setPresenceFromSync marks users online and writes only on change', async () => {
    const source = presenceSource(p.services.userData);
    await setPresenceFromSync(p.services.userData, carol.userId, 'unavailable');
    const a = await source.currentPosition();
    await setPresenceFromSync(p.services.userData, carol.userId, 'unavailable');
    await setPresenceFromSync(p.services.userData, carol.userId, 'offline'); // background sync: no change
    expect(await source.currentPosition()).toBe(a);
    expect((await call(p, carol, 'GET', S(carol))).body.presence).toBe('unavailable');
    await setPresenceFromSync(p.services.userData, carol.userId, 'online');
    const b = await source.currentPosition();
    expect(b).toBeGreaterThan(a);
    await setPresenceFromSync(p.services.userData, carol.userId, 'online'); // within a minute: nothing new
    expect(await source.currentPosition()).toBe(b);
    expect((await call(p, carol, 'GET', S(carol))).body).toMatchObject({ presence: 'online', currently_active: true });
    // /sync?set_presence goes through the same hook
    await call(p, carol, 'GET', '/_matrix/client/v3/sync?set_presence=unavailable');
    expect((await call(p, carol, 'GET', S(carol))).body.presence).toBe('unavailable');
  });

  it('presence events reach /sync of users sharing a room', async () => {
    const first = await call(p, bob, 'GET', '/_matrix/client/v3/sync');
    await call(p, alice, 'PUT', S(alice), { presence: 'online', status_msg: 'back' });
    const next = await call(p, bob, 'GET', `/_matrix/client/v3/sync?since=${first.body.next_batch}`);
    expect(next.body.presence.events).toEqual([
      expect.objectContaining({
        type: 'm.presence',
        sender: alice.userId,
        content: expect.objectContaining({ presence: 'online', status_msg: 'back' }),
      }),
    ]);
  });
});

describe('presence disabled', () => {
  it('reads everyone as offline and stores nothing', async () => {
    const q = await buildPlatform({ presence: { enabled: false } });
    try {
      const u = await makeUser(q, 'dora');
      expect((await call(q, u, 'PUT', S(u), { presence: 'online', status_msg: 'hi' })).status).toBe(200);
      const res = await call(q, u, 'GET', S(u));
      expect(res.body).toEqual({ presence: 'offline' });
      spec.assertResponse('GET', S(u), 200, res.body);
      await setPresenceFromSync(q.services.userData, u.userId, 'online');
      expect(await presenceSource(q.services.userData).currentPosition()).toBe(0);
      expect((await call(q, u, 'GET', '/_matrix/client/v3/sync')).body.presence).toEqual({ events: [] });
    } finally {
      await q.close();
    }
  });
});

describe('user directory', () => {
  const search = (u: TestUser, body: unknown) => call(p, u, 'POST', '/_matrix/client/v3/user_directory/search', body);

  it('finds users sharing a room or in public rooms, by id or display name', async () => {
    const erin = await makeUser(p, 'erin');
    const frank = await makeUser(p, 'frank');
    await call(p, erin, 'PUT', P(erin, '/displayname'), { displayname: 'Erin Zed' });
    await call(p, frank, 'PUT', P(frank, '/displayname'), { displayname: 'Frank Zed' });
    // frank is in a public room; erin in nothing public and shares no room with carol
    await call(p, frank, 'POST', '/_matrix/client/v3/createRoom', { preset: 'public_chat' });

    const res = await search(carol, { search_term: 'zed' });
    expect(res.status).toBe(200);
    spec.assertResponse('POST', '/_matrix/client/v3/user_directory/search', 200, res.body);
    expect(res.body).toEqual({ limited: false, results: [{ user_id: frank.userId, display_name: 'Frank Zed' }] });

    // sharing a room makes erin findable
    const room = (await call(p, carol, 'POST', '/_matrix/client/v3/createRoom', { invite: [erin.userId] })).body.room_id;
    await call(p, erin, 'POST', `/_matrix/client/v3/rooms/${enc(room)}/join`, {});
    const both = await search(carol, { search_term: 'ZED' });
    expect(both.body.results.map((r: { user_id: string }) => r.user_id)).toEqual([erin.userId, frank.userId]);
    expect((await search(carol, { search_term: 'erin z' })).body.results.map((r: { user_id: string }) => r.user_id)).toEqual([erin.userId]);
    expect((await search(carol, { search_term: 'frank' })).body.results[0].user_id).toBe(frank.userId);
    const limited = await search(carol, { search_term: 'zed', limit: 1 });
    expect(limited.body.limited).toBe(true);
    expect(limited.body.results).toHaveLength(1);
    // LIKE wildcards in the term are literal
    expect((await search(carol, { search_term: '%' })).body.results).toEqual([]);
  });

  it('bad bodies are refused', async () => {
    expect(await search(carol, {})).toMatchObject({ status: 400, body: { errcode: 'M_MISSING_PARAM' } });
    expect(await search(carol, { search_term: 1 })).toMatchObject({ status: 400, body: { errcode: 'M_BAD_JSON' } });
    expect(await search(carol, { search_term: 'a', limit: 'x' })).toMatchObject({ status: 400, body: { errcode: 'M_BAD_JSON' } });
  });
});
