import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../../homeserver/platform.js';
import { createPlatform } from '../../../homeserver/platform.js';
import { createLogger } from '../../../homeserver/runtime/logger.js';
import { call, enc, makeUser, testConfig, type TestUser } from '../../helpers/platform.js';
import { freshSchemaDb } from '../../helpers/database.js';
import { specValidator } from '../../helpers/openapi/spec-validator.js';

const spec = await specValidator();
let db: Awaited<ReturnType<typeof freshSchemaDb>>;
let p: Platform;
let alice: TestUser;
let bob: TestUser;
const R = (roomId: string, rest = '') => `/_matrix/client/v3/rooms/${enc(roomId)}${rest}`;
let txn = 0;
const send = (u: TestUser, roomId: string, body: string) =>
  call(p, u, 'PUT', R(roomId, `/send/m.room.message/s${++txn}`), { msgtype: 'm.text', body });
const sync = async (u: TestUser, query = '') => {
  const res = await call(p, u, 'GET', `/_matrix/client/v3/sync${query ? `?${query}` : ''}`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  spec.assertResponse('GET', '/_matrix/client/v3/sync', 200, res.body);
  return res.body;
};

beforeAll(async () => {
  db = await freshSchemaDb();
  p = await createPlatform({ config: testConfig(), db, log: createLogger('silent') });
  alice = await makeUser(p, 'alice');
  bob = await makeUser(p, 'bob');
});
afterAll(async () => {
  await p.close();
  await db.close();
});

describe('sync', () => {
  it('initial sync has joined rooms with state before the timeline, and invites with stripped state', async () => {
    const room = (await call(p, alice, 'POST', '/_matrix/client/v3/createRoom', { name: 'Sync room', invite: [bob.userId] })).body.room_id;
    await send(alice, room, 'first');
    const a = await sync(alice);
    const joined = a.rooms.join[room];
    expect(joined.timeline.events.at(-1).content.body).toBe('first');
    const stateTypes = joined.state.events.map((e: { type: string }) => e.type);
    const timelineTypes = joined.timeline.events.map((e: { type: string }) => e.type);
    // Every piece of state is in exactly one of the two sections.
    expect(
      stateTypes.filter((t: string) => t === 'm.room.create').length + timelineTypes.filter((t: string) => t === 'm.room.create').length,
    ).toBe(1);
    expect(joined.summary['m.joined_member_count']).toBe(1);
    expect(joined.summary['m.invited_member_count']).toBe(1);
    const b = await sync(bob);
    const invite = b.rooms.invite[room];
    expect(invite.invite_state.events.map((e: { type: string }) => e.type)).toEqual(
      expect.arrayContaining(['m.room.create', 'm.room.name', 'm.room.member']),
    );
    expect(b.rooms.join[room]).toBeUndefined();
  });

  it('incremental sync returns only what is new, and wakes a long-poll when a message arrives', async () => {
    const room = (await call(p, alice, 'POST', '/_matrix/client/v3/createRoom', { preset: 'public_chat' })).body.room_id;
    await call(p, bob, 'POST', R(room, '/join'), {});
    const first = await sync(bob);
    const empty = await sync(bob, `since=${first.next_batch}&timeout=0`);
    expect(empty.rooms.join[room]).toBeUndefined();
    const polling = sync(bob, `since=${first.next_batch}&timeout=60000`); // would time the test out if not woken
    await new Promise((r) => setTimeout(r, 50));
    await send(alice, room, 'wake up');
    const woke = await polling;
    expect(woke.rooms.join[room].timeline.events.map((e: { content: { body: string } }) => e.content.body)).toEqual(['wake up']);
    expect(woke.rooms.join[room].timeline.limited).toBe(false);
    expect(woke.rooms.join[room].unread_notifications.notification_count).toBe(1);
  });

  it('limited timelines carry a prev_batch that /messages continues from, and the skipped state', async () => {
    const room = (await call(p, alice, 'POST', '/_matrix/client/v3/createRoom', {})).body.room_id;
    const base = await sync(alice);
    await call(p, alice, 'PUT', R(room, '/state/m.room.topic'), { topic: 'during the gap' });
    for (let i = 0; i < 15; i++) await send(alice, room, `m${i}`);
    const next = await sync(alice, `since=${base.next_batch}&filter=${enc(JSON.stringify({ room: { timeline: { limit: 5 } } }))}`);
    const t = next.rooms.join[room];
    expect(t.timeline.limited).toBe(true);
    expect(t.timeline.events.map((e: { content: { body: string } }) => e.content.body)).toEqual(['m10', 'm11', 'm12', 'm13', 'm14']);
    expect(t.state.events.map((e: { type: string }) => e.type)).toContain('m.room.topic');
    const back = await call(p, alice, 'GET', R(room, `/messages?dir=b&limit=3&from=${t.timeline.prev_batch}`));
    expect(back.body.chunk.map((e: { content: { body: string } }) => e.content.body)).toEqual(['m9', 'm8', 'm7']);
  });

  it('delivers typing and receipts as ephemeral events, private receipts only to their owner', async () => {
    const room = (await call(p, alice, 'POST', '/_matrix/client/v3/createRoom', { preset: 'public_chat' })).body.room_id;
    await call(p, bob, 'POST', R(room, '/join'), {});
    const msg = (await send(alice, room, 'read me')).body.event_id;
    const start = await sync(bob);
    expect((await call(p, alice, 'PUT', R(room, `/typing/${enc(alice.userId)}`), { typing: true, timeout: 10000 })).status).toBe(200);
    expect((await call(p, alice, 'PUT', R(room, `/typing/${enc(bob.userId)}`), { typing: true })).status).toBe(403);
    const typing = await sync(bob, `since=${start.next_batch}&timeout=0`);
    expect(typing.rooms.join[room].ephemeral.events).toContainEqual({ type: 'm.typing', content: { user_ids: [alice.userId] } });
    expect((await call(p, bob, 'POST', R(room, `/receipt/m.read/${enc(msg)}`), {})).status).toBe(200);
    expect((await call(p, alice, 'POST', R(room, `/receipt/m.read.private/${enc(msg)}`), {})).status).toBe(200);
    const receipts = await sync(alice, `since=${start.next_batch}&timeout=0`);
    const receipt = receipts.rooms.join[room].ephemeral.events.find((e: { type: string }) => e.type === 'm.receipt');
    expect(receipt.content[msg]['m.read'][bob.userId].ts).toBeGreaterThan(0);
    expect(receipt.content[msg]['m.read.private'][alice.userId]).toBeDefined();
    const bobsView = await sync(bob, `since=${start.next_batch}&timeout=0`);
    const bobReceipt = bobsView.rooms.join[room].ephemeral.events.find((e: { type: string }) => e.type === 'm.receipt');
    expect(bobReceipt.content[msg]['m.read.private']).toBeUndefined();
    await call(p, alice, 'PUT', R(room, `/typing/${enc(alice.userId)}`), { typing: false });
    const stopped = await sync(bob, `since=${typing.next_batch}&timeout=0`);
    expect(stopped.rooms.join[room].ephemeral.events).toContainEqual({ type: 'm.typing', content: { user_ids: [] } });
  });

  it("counts notifications and highlights with the user's push rules", async () => {
    const room = (await call(p, alice, 'POST', '/_matrix/client/v3/createRoom', { preset: 'public_chat' })).body.room_id;
    await call(p, bob, 'POST', R(room, '/join'), {});
    await call(p, alice, 'POST', R(room, '/join'), {}); // a third party is not needed: 2 members makes it a 1:1 for the rules
    await send(alice, room, 'plain');
    await call(p, alice, 'PUT', R(room, `/send/m.room.message/mention${txn++}`), {
      msgtype: 'm.text',
      body: 'hey bob',
      'm.mentions': { user_ids: [bob.userId] },
    });
    await call(p, alice, 'PUT', R(room, `/send/m.room.message/notice${txn++}`), { msgtype: 'm.notice', body: 'a bot notice' });
    const counts = (await sync(bob)).rooms.join[room].unread_notifications;
    expect(counts).toEqual({ notification_count: 2, highlight_count: 1 }); // .m.rule.suppress_notices silences the notice
    // A user rule that mutes the room (override, no actions) brings it to zero.
    expect(
      (
        await call(p, bob, 'PUT', `/_matrix/client/v3/pushrules/global/override/mute`, {
          conditions: [{ kind: 'event_match', key: 'room_id', pattern: room }],
          actions: [],
        })
      ).status,
    ).toBe(200);
    expect((await sync(bob)).rooms.join[room].unread_notifications).toEqual({ notification_count: 0, highlight_count: 0 });
  });

  it('reports rooms the user left in the leave section', async () => {
    const room = (await call(p, alice, 'POST', '/_matrix/client/v3/createRoom', { preset: 'public_chat' })).body.room_id;
    await call(p, bob, 'POST', R(room, '/join'), {});
    const before = await sync(bob);
    await call(p, alice, 'POST', R(room, '/kick'), { user_id: bob.userId, reason: 'test' });
    const after = await sync(bob, `since=${before.next_batch}&timeout=0`);
    expect(after.rooms.leave[room].timeline.events.at(-1).content.membership).toBe('leave');
    expect(after.rooms.join[room]).toBeUndefined();
  });

  it('lazy-loads members and rejects malformed tokens and filters', async () => {
    const room = (await call(p, alice, 'POST', '/_matrix/client/v3/createRoom', { preset: 'public_chat' })).body.room_id;
    await call(p, bob, 'POST', R(room, '/join'), {});
    for (let i = 0; i < 12; i++) await send(alice, room, `x${i}`);
    const lazy = await sync(bob, `filter=${enc(JSON.stringify({ room: { state: { lazy_load_members: true }, timeline: { limit: 5 } } }))}`);
    const members = lazy.rooms.join[room].state.events
      .filter((e: { type: string }) => e.type === 'm.room.member')
      .map((e: { state_key: string }) => e.state_key);
    expect(members.sort()).toEqual([alice.userId, bob.userId].sort());
    expect((await call(p, bob, 'GET', '/_matrix/client/v3/sync?since=nonsense')).status).toBe(400);
    expect((await call(p, bob, 'GET', '/_matrix/client/v3/sync?filter=%7Bbroken')).status).toBe(400);
    expect((await call(p, bob, 'GET', '/_matrix/client/v3/sync?timeout=-5')).status).toBe(400);
  });

  it('a since token survives a restart of the server', async () => {
    const room = (await call(p, alice, 'POST', '/_matrix/client/v3/createRoom', {})).body.room_id;
    const token = (await sync(alice)).next_batch;
    await send(alice, room, 'before restart');
    await p.close();
    p = await createPlatform({ config: testConfig(), db, log: createLogger('silent') });
    const after = await sync(alice, `since=${token}&timeout=0`);
    expect(after.rooms.join[room].timeline.events.map((e: { content: { body: string } }) => e.content.body)).toEqual(['before restart']);
  });
});
