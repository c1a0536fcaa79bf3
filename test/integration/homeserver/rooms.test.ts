import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../../homeserver/platform.js';
import { buildPlatform, call, enc, makeUser, SERVER_NAME, type TestUser } from '../../helpers/platform.js';
import { specValidator } from '../../helpers/openapi/spec-validator.js';
import { DEFAULT_ROOM_VERSION } from '../../../homeserver/matrix/room-versions.js';

let p: Platform;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;
const spec = await specValidator();
const R = (roomId: string, rest = '') => `/_matrix/client/v3/rooms/${enc(roomId)}${rest}`;
let txn = 0;
const send = (u: TestUser, roomId: string, body: string) =>
  call(p, u, 'PUT', R(roomId, `/send/m.room.message/t${++txn}`), { msgtype: 'm.text', body });

beforeAll(async () => {
  p = await buildPlatform();
  alice = await makeUser(p, 'alice');
  bob = await makeUser(p, 'bob');
  carol = await makeUser(p, 'carol');
});
afterAll(() => p.close());

describe('createRoom', () => {
  it('creates a private room with the spec order of initial state', async () => {
    const res = await call(p, alice, 'POST', '/_matrix/client/v3/createRoom', { name: 'Ops', topic: 'on call', invite: [bob.userId] });
    expect(res.status).toBe(200);
    spec.assertResponse('POST', '/_matrix/client/v3/createRoom', 200, res.body);
    const state = await call(p, alice, 'GET', R(res.body.room_id, '/state'));
    spec.assertResponse('GET', R(res.body.room_id, '/state'), 200, state.body);
    const types = state.body.map((e: { type: string; state_key: string }) => `${e.type}|${e.state_key}`);
    expect(types).toEqual([
      'm.room.create|',
      `m.room.member|${alice.userId}`,
      'm.room.power_levels|',
      'm.room.join_rules|',
      'm.room.history_visibility|',
      'm.room.guest_access|',
      'm.room.name|',
      'm.room.topic|',
      `m.room.member|${bob.userId}`,
    ]);
    const byType = Object.fromEntries(state.body.map((e: { type: string; content: unknown }) => [e.type, e.content]));
    expect(byType['m.room.join_rules']).toEqual({ join_rule: 'invite' });
    expect(byType['m.room.create'].room_version).toBe(DEFAULT_ROOM_VERSION);
    expect(byType['m.room.power_levels'].users[alice.userId]).toBe(100);
  });

  it('supports public_chat with an alias, room version 11 and a power level override', async () => {
    const res = await call(p, alice, 'POST', '/_matrix/client/v3/createRoom', {
      visibility: 'public',
      room_alias_name: 'lobby',
      room_version: '11',
      power_level_content_override: { events_default: 50 },
      initial_state: [{ type: 'm.room.avatar', content: { url: 'mxc://x/y' } }],
    });
    expect(res.status).toBe(200);
    expect(res.body.room_alias).toBe(`#lobby:${SERVER_NAME}`);
    const roomId = res.body.room_id;
    const create = await call(p, alice, 'GET', R(roomId, '/state/m.room.create'));
    expect(create.body.room_version).toBe('11');
    expect(create.body.creator).toBeUndefined(); // v11 drops `creator`
    expect((await call(p, alice, 'GET', R(roomId, '/state/m.room.join_rules/'))).body).toEqual({ join_rule: 'public' });
    expect((await call(p, alice, 'GET', R(roomId, '/state/m.room.power_levels'))).body.events_default).toBe(50);
    expect((await call(p, alice, 'GET', R(roomId, '/state/m.room.canonical_alias'))).body.alias).toBe(`#lobby:${SERVER_NAME}`);
    const resolved = await call(p, bob, 'GET', `/_matrix/client/v3/directory/room/${enc(`#lobby:${SERVER_NAME}`)}`);
    expect(resolved.body).toEqual({ room_id: roomId, servers: [SERVER_NAME] });
    spec.assertResponse('GET', `/_matrix/client/v3/directory/room/${enc(`#lobby:${SERVER_NAME}`)}`, 200, resolved.body);
    const publicRooms = await call(p, bob, 'GET', '/_matrix/client/v3/publicRooms');
    spec.assertResponse('GET', '/_matrix/client/v3/publicRooms', 200, publicRooms.body);
    expect(publicRooms.body.chunk.map((r: { room_id: string }) => r.room_id)).toContain(roomId);
    // events_default 50: bob joins and cannot talk
    expect((await call(p, bob, 'POST', `/_matrix/client/v3/join/${enc(`#lobby:${SERVER_NAME}`)}`, {})).body.room_id).toBe(roomId);
    const denied = await send(bob, roomId, 'hello?');
    expect(denied.status).toBe(403);
    expect(denied.body.errcode).toBe('M_FORBIDDEN');
  });

  it('rejects unsupported room versions and taken aliases', async () => {
    const v = await call(p, alice, 'POST', '/_matrix/client/v3/createRoom', { room_version: '1' });
    expect(v).toMatchObject({ status: 400, body: { errcode: 'M_UNSUPPORTED_ROOM_VERSION' } });
    await call(p, alice, 'POST', '/_matrix/client/v3/createRoom', { room_alias_name: 'dup' });
    const dup = await call(p, bob, 'POST', '/_matrix/client/v3/createRoom', { room_alias_name: 'dup' });
    expect(dup).toMatchObject({ status: 400, body: { errcode: 'M_ROOM_IN_USE' } });
  });
});

describe('membership', () => {
  it('invite, join, kick, ban, unban, leave and forget follow the auth rules', async () => {
    const roomId = (await call(p, alice, 'POST', '/_matrix/client/v3/createRoom', {})).body.room_id;
    // carol is not invited: joining an invite-only room is forbidden
    expect((await call(p, carol, 'POST', R(roomId, '/join'), {})).status).toBe(403);
    expect((await call(p, alice, 'POST', R(roomId, '/invite'), { user_id: carol.userId })).status).toBe(200);
    expect((await call(p, carol, 'POST', R(roomId, '/join'), {})).body).toEqual({ room_id: roomId });
    expect((await call(p, carol, 'GET', '/_matrix/client/v3/joined_rooms')).body.joined_rooms).toContain(roomId);
    // carol (power 0) cannot kick alice
    expect((await call(p, carol, 'POST', R(roomId, '/kick'), { user_id: alice.userId })).status).toBe(403);
    const members = await call(p, alice, 'GET', R(roomId, '/joined_members'));
    expect(Object.keys(members.body.joined).sort()).toEqual([alice.userId, carol.userId].sort());
    spec.assertResponse('GET', R(roomId, '/joined_members'), 200, members.body);
    expect((await call(p, alice, 'POST', R(roomId, '/kick'), { user_id: carol.userId, reason: 'bye' })).status).toBe(200);
    expect((await call(p, carol, 'GET', '/_matrix/client/v3/joined_rooms')).body.joined_rooms).not.toContain(roomId);
    expect((await call(p, alice, 'POST', R(roomId, '/ban'), { user_id: carol.userId })).status).toBe(200);
    expect((await call(p, alice, 'POST', R(roomId, '/invite'), { user_id: carol.userId })).status).toBe(403);
    expect((await call(p, alice, 'POST', R(roomId, '/unban'), { user_id: carol.userId })).status).toBe(200);
    expect((await call(p, alice, 'POST', R(roomId, '/invite'), { user_id: carol.userId })).status).toBe(200);
    expect((await call(p, carol, 'POST', R(roomId, '/leave'), {})).status).toBe(200); // reject the invite
    expect((await call(p, carol, 'POST', R(roomId, '/forget'), {})).status).toBe(200);
    const memberList = await call(p, alice, 'GET', R(roomId, '/members'));
    spec.assertResponse('GET', R(roomId, '/members'), 200, memberList.body);
    const carolMember = memberList.body.chunk.find((e: { state_key: string }) => e.state_key === carol.userId);
    expect(carolMember.content.membership).toBe('leave');
    const leftOnly = await call(p, alice, 'GET', R(roomId, '/members?membership=join'));
    expect(leftOnly.body.chunk.map((e: { state_key: string }) => e.state_key)).toEqual([alice.userId]);
  });

  it('invites to unknown local users are refused', async () => {
    const roomId = (await call(p, alice, 'POST', '/_matrix/client/v3/createRoom', {})).body.room_id;
    const res = await call(p, alice, 'POST', R(roomId, '/invite'), { user_id: `@ghost:${SERVER_NAME}` });
    expect(res.status).toBe(404);
  });

  it('forget refuses while still joined', async () => {
    const roomId = (await call(p, alice, 'POST', '/_matrix/client/v3/createRoom', {})).body.room_id;
    expect((await call(p, alice, 'POST', R(roomId, '/forget'), {})).status).toBe(400);
  });
});

describe('events', () => {
  let roomId: string;
  beforeAll(async () => {
    roomId = (await call(p, alice, 'POST', '/_matrix/client/v3/createRoom', { preset: 'public_chat' })).body.room_id;
    await call(p, bob, 'POST', R(roomId, '/join'), {});
  });

  it('send is idempotent per device and transaction id', async () => {
    const a = await call(p, alice, 'PUT', R(roomId, '/send/m.room.message/same-txn'), { msgtype: 'm.text', body: 'once' });
    const b = await call(p, alice, 'PUT', R(roomId, '/send/m.room.message/same-txn'), { msgtype: 'm.text', body: 'once' });
    expect(a.status).toBe(200);
    spec.assertResponse('PUT', R(roomId, '/send/m.room.message/same-txn'), 200, a.body);
    expect(b.body.event_id).toBe(a.body.event_id);
    // another user's identical txn id is a different event
    const c = await call(p, bob, 'PUT', R(roomId, '/send/m.room.message/same-txn'), { msgtype: 'm.text', body: 'once' });
    expect(c.body.event_id).not.toBe(a.body.event_id);
    const ev = await call(p, alice, 'GET', R(roomId, `/event/${enc(a.body.event_id)}`));
    expect(ev.body.unsigned.transaction_id).toBe('same-txn');
    spec.assertResponse('GET', R(roomId, `/event/${enc(a.body.event_id)}`), 200, ev.body);
    const seenByBob = await call(p, bob, 'GET', R(roomId, `/event/${enc(a.body.event_id)}`));
    expect(seenByBob.body.unsigned.transaction_id).toBeUndefined();
  });

  it('concurrent sends with the same txn id create one event', async () => {
    const results = await Promise.all(
      Array.from({ length: 5 }, () => call(p, alice, 'PUT', R(roomId, '/send/m.room.message/racy'), { msgtype: 'm.text', body: 'race' })),
    );
    expect(new Set(results.map((r) => r.body.event_id)).size).toBe(1);
  });

  it('stores signed, hashed PDUs whose ids are their reference hashes', async () => {
    const sent = await send(alice, roomId, 'signed');
    const { rows } = await p.db.query<{ json: string }>('SELECT json FROM hs_events WHERE event_id = $1', [sent.body.event_id]);
    const pdu = JSON.parse(rows[0]!.json);
    const { computeEventId, verifyContentHash } = await import('../../../homeserver/matrix/event-hashes.js');
    const { verifyJsonSignature } = await import('../../../homeserver/matrix/signing.js');
    const { redactEvent } = await import('../../../homeserver/matrix/redaction.js');
    expect(computeEventId(pdu, DEFAULT_ROOM_VERSION)).toBe(sent.body.event_id);
    expect(verifyContentHash(pdu)).toBe(true);
    const key = p.services.signingKey;
    expect(verifyJsonSignature(redactEvent(pdu, DEFAULT_ROOM_VERSION), SERVER_NAME, key.keyId, key.publicKeyBase64)).toBe(true);
    expect(pdu.prev_events).toHaveLength(1);
    expect(pdu.auth_events.length).toBeGreaterThanOrEqual(3);
    const served = await call(p, undefined, 'GET', '/_matrix/key/v2/server');
    expect(served.body.verify_keys[key.keyId].key).toBe(key.publicKeyBase64);
  });

  it('sets and reads state; non-moderators cannot set moderator state', async () => {
    const put = await call(p, alice, 'PUT', R(roomId, '/state/m.room.topic'), { topic: 'new topic' });
    expect(put.status).toBe(200);
    expect((await call(p, bob, 'GET', R(roomId, '/state/m.room.topic/'))).body).toEqual({ topic: 'new topic' });
    const asEvent = await call(p, bob, 'GET', R(roomId, '/state/m.room.topic?format=event'));
    expect(asEvent.body.event_id).toBe(put.body.event_id);
    expect(asEvent.body.unsigned.prev_content).toBeUndefined();
    const denied = await call(p, bob, 'PUT', R(roomId, '/state/m.room.name'), { name: 'hijack' });
    expect(denied).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });
    const custom = await call(p, alice, 'PUT', R(roomId, '/state/org.example.thing/some%2Fkey'), { v: 1 });
    expect(custom.status).toBe(200);
    expect((await call(p, alice, 'GET', R(roomId, '/state/org.example.thing/some%2Fkey'))).body).toEqual({ v: 1 });
    expect((await call(p, alice, 'GET', R(roomId, '/state/m.room.nonexistent'))).status).toBe(404);
  });

  it('redacts: own events, moderators redact others, others cannot', async () => {
    const bobs = await send(bob, roomId, 'secret');
    const alices = await send(alice, roomId, 'alice says');
    const forbidden = await call(p, bob, 'PUT', R(roomId, `/redact/${enc(alices.body.event_id)}/r1`), {});
    expect(forbidden.status).toBe(403);
    const own = await call(p, bob, 'PUT', R(roomId, `/redact/${enc(bobs.body.event_id)}/r2`), { reason: 'oops' });
    expect(own.status).toBe(200);
    spec.assertResponse('PUT', R(roomId, `/redact/${enc(bobs.body.event_id)}/r2`), 200, own.body);
    const redacted = await call(p, alice, 'GET', R(roomId, `/event/${enc(bobs.body.event_id)}`));
    expect(redacted.body.content).toEqual({});
    expect(redacted.body.unsigned.redacted_because.event_id).toBe(own.body.event_id);
    expect(redacted.body.unsigned.redacted_because.content.reason).toBe('oops');
    const mod = await call(p, alice, 'PUT', R(roomId, `/redact/${enc((await send(bob, roomId, 'spam')).body.event_id)}/r3`), {});
    expect(mod.status).toBe(200);
    const missing = await call(p, alice, 'PUT', R(roomId, `/redact/${enc('$doesnotexist')}/r4`), {});
    expect(missing.status).toBe(404);
  });

  it('paginates backwards and forwards with tokens', async () => {
    const room = (await call(p, alice, 'POST', '/_matrix/client/v3/createRoom', {})).body.room_id;
    const ids: string[] = [];
    for (let i = 0; i < 25; i++) ids.push((await send(alice, room, `m${i}`)).body.event_id);
    const page1 = await call(p, alice, 'GET', R(room, '/messages?dir=b&limit=10'));
    expect(page1.status).toBe(200);
    spec.assertResponse('GET', R(room, '/messages?dir=b&limit=10'), 200, page1.body);
    expect(page1.body.chunk.map((e: { event_id: string }) => e.event_id)).toEqual(ids.slice(15).reverse());
    const page2 = await call(p, alice, 'GET', R(room, `/messages?dir=b&limit=10&from=${page1.body.end}`));
    expect(page2.body.chunk.map((e: { event_id: string }) => e.event_id)).toEqual(ids.slice(5, 15).reverse());
    const page3 = await call(p, alice, 'GET', R(room, `/messages?dir=b&limit=100&from=${page2.body.end}`));
    expect(page3.body.chunk.slice(0, 5).map((e: { event_id: string }) => e.event_id)).toEqual(ids.slice(0, 5).reverse());
    expect(page3.body.chunk.at(-1).type).toBe('m.room.create');
    expect(page3.body.end).toBeUndefined(); // start of the room reached
    const forward = await call(p, alice, 'GET', R(room, `/messages?dir=f&limit=3&from=${page2.body.end}`));
    expect(forward.body.chunk.map((e: { event_id: string }) => e.event_id)).toEqual(ids.slice(5, 8));
    const filtered = await call(
      p,
      alice,
      'GET',
      R(room, `/messages?dir=b&limit=100&filter=${enc(JSON.stringify({ types: ['m.room.member'] }))}`),
    );
    expect(filtered.body.chunk.every((e: { type: string }) => e.type === 'm.room.member')).toBe(true);
    const lazy = await call(p, alice, 'GET', R(room, `/messages?dir=b&limit=2&filter=${enc(JSON.stringify({ lazy_load_members: true }))}`));
    expect(lazy.body.state.map((e: { state_key: string }) => e.state_key)).toEqual([alice.userId]);
    const context = await call(p, alice, 'GET', R(room, `/context/${enc(ids[10]!)}?limit=4`));
    expect(context.status).toBe(200);
    spec.assertResponse('GET', R(room, `/context/${enc(ids[10]!)}?limit=4`), 200, context.body);
    expect(context.body.events_before.map((e: { event_id: string }) => e.event_id)).toEqual([ids[9], ids[8]]);
    expect(context.body.events_after.map((e: { event_id: string }) => e.event_id)).toEqual([ids[11], ids[12]]);
  });

  it('hides history before a join when visibility is joined, and after a leave', async () => {
    const room = (
      await call(p, alice, 'POST', '/_matrix/client/v3/createRoom', {
        preset: 'public_chat',
        initial_state: [{ type: 'm.room.history_visibility', content: { history_visibility: 'joined' } }],
      })
    ).body.room_id;
    const before = await send(alice, room, 'before carol');
    await call(p, carol, 'POST', R(room, '/join'), {});
    const during = await send(alice, room, 'while carol is here');
    await call(p, carol, 'POST', R(room, '/leave'), {});
    const after = await send(alice, room, 'after carol left');
    const page = await call(p, carol, 'GET', R(room, '/messages?dir=b&limit=50'));
    const seen = page.body.chunk.map((e: { event_id: string }) => e.event_id);
    expect(seen).toContain(during.body.event_id);
    expect(seen).not.toContain(before.body.event_id);
    expect(seen).not.toContain(after.body.event_id);
    expect((await call(p, carol, 'GET', R(room, `/event/${enc(after.body.event_id)}`))).status).toBe(404);
    expect((await call(p, bob, 'GET', R(room, '/messages?dir=b'))).status).toBe(403);
  });
});

describe('aliases and directory', () => {
  it('creates, resolves, lists and deletes aliases with the right errors', async () => {
    const roomId = (await call(p, alice, 'POST', '/_matrix/client/v3/createRoom', {})).body.room_id;
    const alias = `#team:${SERVER_NAME}`;
    expect((await call(p, alice, 'PUT', `/_matrix/client/v3/directory/room/${enc(alias)}`, { room_id: roomId })).status).toBe(200);
    const conflict = await call(p, alice, 'PUT', `/_matrix/client/v3/directory/room/${enc(alias)}`, { room_id: roomId });
    expect(conflict.status).toBe(409);
    expect(
      (await call(p, bob, 'PUT', `/_matrix/client/v3/directory/room/${enc(`#bobs:${SERVER_NAME}`)}`, { room_id: roomId })).status,
    ).toBe(403);
    expect((await call(p, alice, 'PUT', `/_matrix/client/v3/directory/room/${enc('#x:other.server')}`, { room_id: roomId })).status).toBe(
      400,
    );
    const list = await call(p, alice, 'GET', R(roomId, '/aliases'));
    expect(list.body.aliases).toEqual([alias]);
    expect((await call(p, bob, 'DELETE', `/_matrix/client/v3/directory/room/${enc(alias)}`)).status).toBe(403);
    expect((await call(p, alice, 'DELETE', `/_matrix/client/v3/directory/room/${enc(alias)}`)).status).toBe(200);
    expect((await call(p, alice, 'GET', `/_matrix/client/v3/directory/room/${enc(alias)}`)).status).toBe(404);
  });

  it('publishes and unpublishes rooms', async () => {
    const roomId = (await call(p, alice, 'POST', '/_matrix/client/v3/createRoom', { name: 'Findable' })).body.room_id;
    expect((await call(p, alice, 'GET', `/_matrix/client/v3/directory/list/room/${enc(roomId)}`)).body).toEqual({ visibility: 'private' });
    expect((await call(p, bob, 'PUT', `/_matrix/client/v3/directory/list/room/${enc(roomId)}`, { visibility: 'public' })).status).toBe(403);
    await call(p, alice, 'PUT', `/_matrix/client/v3/directory/list/room/${enc(roomId)}`, { visibility: 'public' });
    const found = await call(p, alice, 'POST', '/_matrix/client/v3/publicRooms', { filter: { generic_search_term: 'findable' } });
    expect(found.body.chunk.map((r: { room_id: string }) => r.room_id)).toEqual([roomId]);
    spec.assertResponse('POST', '/_matrix/client/v3/publicRooms', 200, found.body);
  });
});
