import { twoProcesses } from '../../helpers/two-processes.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../../homeserver/platform.js';
import { call, enc, makeUser, type TestUser } from '../../helpers/platform.js';

/**
 * Client transaction ids are checked inside the commit itself (event-committer.ts: the `dup` CTE
 * of the one-statement path, a lookup in the transaction of the general path), not by a lookup
 * before building. These cases would each create a second event if that check were wrong: a retry
 * batched with new sends, a retried redaction, a retry refused before the commit, and the same
 * transaction racing through two processes.
 */
let a: Platform;
let b: Platform;
let alice: TestUser;
let bob: TestUser;

const R = (roomId: string, rest = '') => `/_matrix/client/v3/rooms/${enc(roomId)}${rest}`;
const send = (p: Platform, u: TestUser, roomId: string, txn: string, body: string) =>
  call(p, u, 'PUT', R(roomId, `/send/m.room.message/${txn}`), { msgtype: 'm.text', body });
async function messages(roomId: string, type = 'm.room.message'): Promise<{ event_id: string; content: { body?: string } }[]> {
  const res = await call(a, alice, 'GET', R(roomId, '/messages?dir=b&limit=100'));
  expect(res.status).toBe(200);
  return res.body.chunk.filter((e: { type: string }) => e.type === type).reverse();
}

let cluster: Awaited<ReturnType<typeof twoProcesses>> | undefined;

beforeAll(async () => {
  cluster = await twoProcesses('txn');
  ({ a, b } = cluster);
  alice = await makeUser(a, 'alice');
  bob = await makeUser(a, 'bob');
});
afterAll(async () => {
  await cluster?.close();
});

describe('client transaction ids, checked in the commit', () => {
  it('a retry committed in the same batch as new sends gets the first id, and the new sends are still written once', async () => {
    const room = (await call(a, alice, 'POST', '/_matrix/client/v3/createRoom', {})).body.room_id;
    const first = await send(a, alice, room, 'r1', 'one');
    expect(first.status).toBe(200);
    // Submitted together, so the room worker builds them into one chain with the retry in the middle.
    const [n1, retry, n2] = await Promise.all([
      send(a, alice, room, 'r2', 'two'),
      send(a, alice, room, 'r1', 'one'),
      send(a, alice, room, 'r3', 'three'),
    ]);
    expect([n1.status, retry.status, n2.status]).toEqual([200, 200, 200]);
    expect(retry.body.event_id).toBe(first.body.event_id);
    const msgs = await messages(room);
    expect(msgs.map((m) => m.content.body)).toEqual(['one', 'two', 'three']);
    expect(msgs.map((m) => m.event_id)).toEqual([first.body.event_id, n1.body.event_id, n2.body.event_id]);
  });

  it('a retried redaction returns the first redaction and writes no second one', async () => {
    const room = (await call(a, alice, 'POST', '/_matrix/client/v3/createRoom', {})).body.room_id;
    const target = (await send(a, alice, room, 'x1', 'to redact')).body.event_id;
    const redact = () => call(a, alice, 'PUT', R(room, `/redact/${enc(target)}/red1`), { reason: 'oops' });
    const r1 = await redact();
    const r2 = await redact();
    expect([r1.status, r2.status]).toEqual([200, 200]);
    expect(r2.body.event_id).toBe(r1.body.event_id);
    expect((await messages(room, 'm.room.redaction')).map((e) => e.event_id)).toEqual([r1.body.event_id]);
  });

  it('a retry refused before the commit (the sender has left since) still answers with the first id', async () => {
    const room = (await call(a, alice, 'POST', '/_matrix/client/v3/createRoom', { preset: 'public_chat' })).body.room_id;
    expect((await call(a, bob, 'POST', R(room, '/join'), {})).status).toBe(200);
    const first = await send(a, bob, room, 'gone1', 'before leaving');
    expect((await call(a, bob, 'POST', R(room, '/leave'), {})).status).toBe(200);
    const retry = await send(a, bob, room, 'gone1', 'before leaving');
    expect(retry.status).toBe(200);
    expect(retry.body.event_id).toBe(first.body.event_id);
    // A new transaction from someone who left is refused as before.
    expect((await send(a, bob, room, 'gone2', 'after leaving')).status).toBe(403);
  });

  it('the same transaction sent through two processes at once creates one event', async () => {
    const room = (await call(a, alice, 'POST', '/_matrix/client/v3/createRoom', {})).body.room_id;
    for (let i = 0; i < 10; i++) {
      const [x, y] = await Promise.all([send(a, alice, room, `race${i}`, `race ${i}`), send(b, alice, room, `race${i}`, `race ${i}`)]);
      expect([x.status, y.status]).toEqual([200, 200]);
      expect(y.body.event_id).toBe(x.body.event_id);
    }
    expect((await messages(room)).map((m) => m.content.body)).toEqual(Array.from({ length: 10 }, (_, i) => `race ${i}`));
  });
});
