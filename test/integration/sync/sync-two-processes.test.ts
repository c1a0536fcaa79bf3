import { twoProcesses } from '../../helpers/two-processes.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../../homeserver/platform.js';
import { call, enc, makeUser, type TestUser } from '../../helpers/platform.js';

/**
 * Two platforms on one database schema with the Redis runtime: what one process writes, the
 * other learns only through Redis pub/sub. Sync's in-memory caches (positions, changed rooms,
 * memberships, recent timelines, unread counts) must never hide or duplicate anything.
 */
let a: Platform;
let b: Platform;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;
let txn = 0;
const R = (roomId: string, rest = '') => `/_matrix/client/v3/rooms/${enc(roomId)}${rest}`;
const send = (p: Platform, u: TestUser, roomId: string, body: string) =>
  call(p, u, 'PUT', R(roomId, `/send/m.room.message/t${++txn}`), { msgtype: 'm.text', body });
const sync = async (p: Platform, u: TestUser, query = '') => {
  const res = await call(p, u, 'GET', `/_matrix/client/v3/sync${query ? `?${query}` : ''}`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
};
const bodies = (s: any, roomId: string): string[] =>
  (s.rooms?.join?.[roomId]?.timeline.events ?? [])
    .filter((e: { type: string }) => e.type === 'm.room.message')
    .map((e: { content: { body?: string } }) => e.content.body ?? '<redacted>');
/** Until process `p` has heard of every room event the database holds (its notifications travel through Redis). */
async function settled(p: Platform): Promise<void> {
  const max = await p.services.rooms.store.maxStreamOrdering();
  for (let i = 0; i < 200 && p.services.notifier.eventsPosition < max; i++) await new Promise((r) => setTimeout(r, 10));
  expect(p.services.notifier.eventsPosition).toBeGreaterThanOrEqual(max);
}

let cluster: Awaited<ReturnType<typeof twoProcesses>> | undefined;

beforeAll(async () => {
  cluster = await twoProcesses('sync2p');
  ({ a, b } = cluster);
  alice = await makeUser(a, 'alice');
  bob = await makeUser(a, 'bob');
  carol = await makeUser(a, 'carol');
});
afterAll(async () => {
  await cluster?.close();
});

describe('sync across two processes (Redis runtime, one database)', () => {
  it('delivers messages written by either process exactly once and in order, waking long-polls in the other', async () => {
    const room = (await call(a, alice, 'POST', '/_matrix/client/v3/createRoom', { preset: 'public_chat' })).body.room_id;
    await call(b, bob, 'POST', R(room, '/join'), {});
    let token = (await sync(a, alice)).next_batch;
    // A long-poll in A is woken by a send through B.
    const polling = sync(a, alice, `since=${token}&timeout=30000`);
    await new Promise((r) => setTimeout(r, 100));
    await send(b, bob, room, 'from b');
    const woke = await polling;
    expect(bodies(woke, room)).toEqual(['from b']);
    token = woke.next_batch;
    // Interleaved writers, alternating readers: every message exactly once, in order.
    const got: string[] = [];
    const expected: string[] = [];
    for (let i = 0; i < 12; i++) {
      const [p, u] = i % 3 === 0 ? [a, alice] : [b, bob];
      const body = `m${i}`;
      expected.push(body);
      await send(p, u, room, body);
      if (i % 2 === 1) {
        const reader = i % 4 === 1 ? a : b;
        await settled(reader);
        const s = await sync(reader, alice, `since=${token}&timeout=0`);
        got.push(...bodies(s, room));
        token = s.next_batch;
      }
    }
    await settled(a);
    got.push(...bodies(await sync(a, alice, `since=${token}&timeout=0`), room));
    expect(got).toEqual(expected);
  });

  it('keeps unread counts right when messages and read receipts come from the other process', async () => {
    const room = (await call(a, alice, 'POST', '/_matrix/client/v3/createRoom', { preset: 'public_chat' })).body.room_id;
    await call(a, bob, 'POST', R(room, '/join'), {});
    let token = (await sync(a, alice)).next_batch;
    const counts = async () => {
      await settled(a);
      const s = await sync(a, alice, `since=${token}&timeout=0`);
      token = s.next_batch;
      return s.rooms.join[room]?.unread_notifications;
    };
    await send(b, bob, room, 'one');
    await send(b, bob, room, 'two');
    expect(await counts()).toEqual({ notification_count: 2, highlight_count: 0 });
    const last = (await send(a, bob, room, 'three')).body.event_id;
    expect(await counts()).toEqual({ notification_count: 3, highlight_count: 0 });
    expect((await call(b, alice, 'POST', R(room, `/receipt/m.read/${enc(last)}`), {})).status).toBe(200);
    // The receipt wakes alice's sync in A (room-scoped), and her count starts again from it.
    for (let i = 0; i < 100; i++) {
      const s = await sync(a, alice, `since=${token}&timeout=0`);
      if (s.rooms.join[room]?.ephemeral.events.length) {
        token = s.next_batch;
        expect(s.rooms.join[room].unread_notifications).toEqual({ notification_count: 0, highlight_count: 0 });
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    await send(b, bob, room, 'four');
    expect(await counts()).toEqual({ notification_count: 1, highlight_count: 0 });
  });

  it('sees invites, joins, typing and account data made through the other process', async () => {
    const room = (await call(b, alice, 'POST', '/_matrix/client/v3/createRoom', { preset: 'private_chat' })).body.room_id;
    let token = (await sync(a, carol)).next_batch;
    const invited = sync(a, carol, `since=${token}&timeout=30000`);
    await new Promise((r) => setTimeout(r, 100));
    await call(b, alice, 'POST', R(room, '/invite'), { user_id: carol.userId });
    const inv = await invited;
    expect(inv.rooms.invite[room]).toBeDefined();
    token = inv.next_batch;
    await call(b, carol, 'POST', R(room, '/join'), {});
    await send(b, alice, room, 'welcome');
    await settled(a);
    const joined = await sync(a, carol, `since=${token}&timeout=0`);
    expect(bodies(joined, room)).toContain('welcome');
    token = joined.next_batch;

    const typing = sync(a, carol, `since=${token}&timeout=30000`);
    await new Promise((r) => setTimeout(r, 100));
    await call(b, alice, 'PUT', R(room, `/typing/${enc(alice.userId)}`), { typing: true, timeout: 10000 });
    const t = await typing;
    expect(t.rooms.join[room].ephemeral.events).toContainEqual({ type: 'm.typing', content: { user_ids: [alice.userId] } });
    token = t.next_batch;

    const data = sync(a, carol, `since=${token}&timeout=30000`);
    await new Promise((r) => setTimeout(r, 100));
    await call(b, carol, 'PUT', `/_matrix/client/v3/user/${enc(carol.userId)}/account_data/org.example.test`, { x: 1 });
    const d = await data;
    expect(d.account_data.events).toContainEqual({ type: 'org.example.test', content: { x: 1 } });
  });

  it('shows a redaction made by the other process to a sync from before the redacted event', async () => {
    const room = (await call(a, alice, 'POST', '/_matrix/client/v3/createRoom', { preset: 'public_chat' })).body.room_id;
    await call(a, bob, 'POST', R(room, '/join'), {});
    const t0 = (await sync(a, alice)).next_batch;
    const target = (await send(a, bob, room, 'secret')).body.event_id;
    await send(a, bob, room, 'after');
    await settled(a);
    expect(bodies(await sync(a, alice, `since=${t0}&timeout=0`), room)).toEqual(['secret', 'after']); // now cached in A
    expect((await call(b, bob, 'PUT', R(room, `/redact/${enc(target)}/r${++txn}`), {})).status).toBe(200);
    await settled(a);
    const again = await sync(a, alice, `since=${t0}&timeout=0`);
    const redacted = again.rooms.join[room].timeline.events.find((e: { event_id: string }) => e.event_id === target);
    expect(redacted.content).toEqual({});
    expect(redacted.unsigned.redacted_because).toBeDefined();
  });
});
