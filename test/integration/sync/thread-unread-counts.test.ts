import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../../homeserver/platform.js';
import { buildPlatform, call, enc, makeUser, type TestUser } from '../../helpers/platform.js';
import { specValidator } from '../../helpers/openapi/spec-validator.js';

/**
 * Threaded read receipts (spec v1.4) as Element and matrix-js-sdk send them: a receipt with
 * thread_id "main" reads the room's timeline, one with a thread root's id reads that thread, and a
 * filter with `unread_thread_notifications` gets the thread counts apart.
 */
const spec = await specValidator();
let p: Platform;
let alice: TestUser;
let bob: TestUser;
let room: string;
let root: string;
let lastMain: string;
let lastInThread: string;
let txn = 0;
const R = (rest: string) => `/_matrix/client/v3/rooms/${enc(room)}${rest}`;
const send = async (u: TestUser, content: Record<string, unknown>) =>
  (await call(p, u, 'PUT', R(`/send/m.room.message/t${++txn}`), { msgtype: 'm.text', ...content })).body.event_id as string;
const threaded = encodeURIComponent(JSON.stringify({ room: { timeline: { unread_thread_notifications: true } } }));

async function counts(u: TestUser, filter?: string) {
  const res = await call(p, u, 'GET', `/_matrix/client/v3/sync${filter ? `?filter=${filter}` : ''}`);
  expect(res.status).toBe(200);
  spec.assertResponse('GET', '/_matrix/client/v3/sync', 200, res.body);
  const joined = res.body.rooms.join[room];
  return { main: joined.unread_notifications, threads: joined.unread_thread_notifications };
}
const c = (n: number) => ({ notification_count: n, highlight_count: 0 });

beforeAll(async () => {
  p = await buildPlatform();
  alice = await makeUser(p, 'alice');
  bob = await makeUser(p, 'bob');
  // Three members: the default one-to-one rules would make every message notify alike anyway, but
  // this keeps the counts about .m.rule.message.
  const carol = await makeUser(p, 'carol');
  room = (await call(p, alice, 'POST', '/_matrix/client/v3/createRoom', { preset: 'public_chat' })).body.room_id;
  for (const u of [bob, carol]) await call(p, u, 'POST', R('/join'), {});
  root = await send(alice, { body: 'thread root' });
  await send(alice, { body: 'in thread 1', 'm.relates_to': { rel_type: 'm.thread', event_id: root } });
  lastMain = await send(alice, { body: 'main 2' });
  lastInThread = await send(alice, { body: 'in thread 2', 'm.relates_to': { rel_type: 'm.thread', event_id: root } });
});
afterAll(async () => {
  await p.close();
});

describe('unread counts with threads', () => {
  it('splits the main timeline from each thread when the filter asks, and sums them otherwise', async () => {
    expect(await counts(bob, threaded)).toEqual({ main: c(2), threads: { [root]: c(2) } });
    expect(await counts(bob)).toEqual({ main: c(4), threads: undefined });
  });

  it('a receipt on the main timeline (thread_id "main") reads it and leaves the thread unread', async () => {
    expect((await call(p, bob, 'POST', R(`/receipt/m.read/${enc(lastMain)}`), { thread_id: 'main' })).status).toBe(200);
    expect(await counts(bob, threaded)).toEqual({ main: c(0), threads: { [root]: c(2) } });
    expect(await counts(bob)).toEqual({ main: c(2), threads: undefined });
    // The push badge and /notifications apply the same receipts.
    expect(await p.services.notifications.unreadRooms(bob.userId)).toBe(1);
    const listed = (await call(p, bob, 'GET', '/_matrix/client/v3/notifications')).body.notifications as {
      read: boolean;
      event: { event_id: string };
    }[];
    expect(Object.fromEntries(listed.map((n) => [n.event.event_id, n.read]))).toMatchObject({
      [lastMain]: true,
      [root]: true,
      [lastInThread]: false,
    });
  });

  it('a receipt in the thread reads the thread; after that nothing is left, and the thread object is left out', async () => {
    expect((await call(p, bob, 'POST', R(`/receipt/m.read.private/${enc(lastInThread)}`), { thread_id: root })).status).toBe(200);
    expect(await counts(bob, threaded)).toEqual({ main: c(0), threads: undefined });
    expect(await counts(bob)).toEqual({ main: c(0), threads: undefined });
    expect(await p.services.notifications.unreadRooms(bob.userId)).toBe(0);
  });

  it('a late joiner counts only what came after the join (a profile change keeps that), and an unthreaded receipt reads every thread', async () => {
    const dave = await makeUser(p, 'dave');
    expect((await call(p, dave, 'POST', R('/join'), {})).status).toBe(200);
    await send(alice, { body: 'in thread 3', 'm.relates_to': { rel_type: 'm.thread', event_id: root } });
    const last = await send(alice, { body: 'main 3' });
    expect(await counts(dave, threaded)).toEqual({ main: c(1), threads: { [root]: c(1) } });
    // A display name change is a join -> join member event: the count still starts at the first join.
    expect((await call(p, dave, 'PUT', `/_matrix/client/v3/profile/${enc(dave.userId)}/displayname`, { displayname: 'Dave' })).status).toBe(
      200,
    );
    expect(await counts(dave, threaded)).toEqual({ main: c(1), threads: { [root]: c(1) } });
    expect((await call(p, dave, 'POST', R(`/receipt/m.read/${enc(last)}`), {})).status).toBe(200);
    expect(await counts(dave, threaded)).toEqual({ main: c(0), threads: undefined });
  });

  it('refuses a filter whose unread_thread_notifications is not a boolean', async () => {
    const bad = encodeURIComponent(JSON.stringify({ room: { timeline: { unread_thread_notifications: 'yes' } } }));
    const res = await call(p, bob, 'GET', `/_matrix/client/v3/sync?filter=${bad}`);
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('M_INVALID_PARAM');
  });
});
