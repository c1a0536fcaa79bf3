import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../../homeserver/platform.js';
import { STREAM_TOPIC, type StreamWakeUp } from '../../../homeserver/services/sync/stream-source.js';
import { buildPlatform, call, makeUser, SERVER_NAME, type TestUser } from '../../helpers/platform.js';
import { specValidator } from '../../helpers/openapi/spec-validator.js';
import { loginAgain } from './e2e-fixtures.js';

let p: Platform;
let alice: TestUser;
let alice2: TestUser;
let bob: TestUser;
const spec = await specValidator();
const url = (type: string, txn: string) => `/_matrix/client/v3/sendToDevice/${encodeURIComponent(type)}/${encodeURIComponent(txn)}`;

async function send(from: TestUser, type: string, txn: string, messages: unknown) {
  const res = await call(p, from, 'PUT', url(type, txn), { messages });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  spec.assertResponse('PUT', url(type, txn), 200, res.body);
}

const stream = () => p.services.e2e.sync.toDevice;
const pending = async (u: TestUser) =>
  (await p.db.query('SELECT count(*)::int AS n FROM hs_e2e_device_inbox WHERE user_id = $1 AND device_id = $2', [u.userId, u.deviceId]))
    .rows[0]!.n as number;

beforeAll(async () => {
  p = await buildPlatform();
  alice = await makeUser(p, 'alice');
  alice2 = await loginAgain(p, alice);
  bob = await makeUser(p, 'bob');
});
afterAll(() => p.close());

describe('sendToDevice', () => {
  it('delivers to one device or to every device (*), in order, once per transaction id', async () => {
    const wakes: StreamWakeUp[] = [];
    const unsubscribe = await p.runtime.pubsub.subscribe(STREAM_TOPIC, (m) => wakes.push(m as StreamWakeUp));
    const start = await stream().currentPosition();
    await send(bob, 'm.room_key_request', 't1', { [alice.userId]: { [alice.deviceId]: { n: 1 } } });
    await send(bob, 'm.room_key_request', 't2', { [alice.userId]: { '*': { n: 2 } } });
    await send(bob, 'm.room_key_request', 't2', { [alice.userId]: { '*': { n: 2 } } }); // retried: no new message
    // unknown devices, unknown local users and remote users are dropped without an error
    await send(bob, 'm.dummy', 't3', {
      [alice.userId]: { NOSUCHDEVICE: { n: 3 } },
      [`@ghost:${SERVER_NAME}`]: { X: {} },
      '@remote:elsewhere.example': { Y: {} },
    });
    const to = await stream().currentPosition();
    expect(to).toBe(start + 3);

    const a1 = await stream().read(alice.userId, alice.deviceId, start, to);
    expect(a1.position).toBe(to);
    expect(a1.section).toEqual({
      events: [
        { sender: bob.userId, type: 'm.room_key_request', content: { n: 1 } },
        { sender: bob.userId, type: 'm.room_key_request', content: { n: 2 } },
      ],
    });
    const a2 = await stream().sectionFor(alice2.userId, alice2.deviceId, start, to, { joined: [] });
    expect(a2).toEqual({ events: [{ sender: bob.userId, type: 'm.room_key_request', content: { n: 2 } }] });
    expect(await stream().sectionFor(bob.userId, bob.deviceId, start, to, { joined: [] })).toBeUndefined();
    expect(await stream().sectionFor(alice.userId, undefined, start, to, { joined: [] })).toBeUndefined();

    // the same txn id from another device of the sender is a different transaction
    const bob2 = await loginAgain(p, bob);
    await send(bob2, 'm.room_key_request', 't1', { [alice.userId]: { [alice.deviceId]: { n: 4 } } });
    expect(await stream().currentPosition()).toBe(to + 1);

    await new Promise((r) => setTimeout(r, 20));
    await unsubscribe();
    const toDeviceWakes = wakes.filter((w) => w.stream === 'to_device');
    // t1, t2 and bob2's t1: the retried t2 and the undeliverable t3 wrote nothing
    expect(toDeviceWakes.length).toBe(3);
    expect(toDeviceWakes[1]!.userIds).toEqual([alice.userId]);
  });

  it('syncing past messages acknowledges (deletes) them', async () => {
    const start = await stream().currentPosition();
    await send(bob, 'm.test', 'ack1', { [alice2.userId]: { [alice2.deviceId]: { i: 1 } } });
    const mid = await stream().currentPosition();
    await send(bob, 'm.test', 'ack2', { [alice2.userId]: { [alice2.deviceId]: { i: 2 } } });
    const end = await stream().currentPosition();
    await p.services.e2e.sync.ackToDevice(alice2.userId, alice2.deviceId, start);
    const before = await pending(alice2);
    expect(before).toBe(2);
    // an incremental sync from `mid` (the client has seen ack1) deletes ack1 and returns ack2
    const read = await stream().read(alice2.userId, alice2.deviceId, mid, end);
    expect(read.section!.events.map((e) => e.content)).toEqual([{ i: 2 }]);
    expect(await pending(alice2)).toBe(1);
    await p.services.e2e.sync.ackToDevice(alice2.userId, alice2.deviceId, end);
    expect(await pending(alice2)).toBe(0);
    expect(await stream().sectionFor(alice2.userId, alice2.deviceId, end, end, { joined: [] })).toBeUndefined();
  });

  it('at most 100 messages per sync; the position stops at the last one delivered', async () => {
    const carol = await makeUser(p, 'carol');
    const start = await stream().currentPosition();
    for (let i = 0; i < 105; i++) await send(bob, 'm.test', `bulk${i}`, { [carol.userId]: { [carol.deviceId]: { i } } });
    const to = await stream().currentPosition();
    const first = await stream().read(carol.userId, carol.deviceId, start, to);
    expect(first.section!.events).toHaveLength(100);
    expect(first.section!.events[99]!.content).toEqual({ i: 99 });
    expect(first.position).toBeLessThan(to);
    const second = await stream().read(carol.userId, carol.deviceId, first.position, to);
    expect(second.section!.events.map((e) => e.content)).toEqual([100, 101, 102, 103, 104].map((i) => ({ i })));
    expect(second.position).toBe(to);
    expect(await pending(carol)).toBe(5);
  });

  it('messages to a deleted device go with it', async () => {
    const dave = await makeUser(p, 'dave');
    const dave2 = await loginAgain(p, dave);
    await send(bob, 'm.test', 'gone', { [dave.userId]: { '*': { x: 1 } } });
    expect(await pending(dave2)).toBe(1);
    await p.services.accounts.deleteDevices(dave.userId, [dave2.deviceId]);
    expect(await pending(dave2)).toBe(0);
    expect(await pending(dave)).toBe(1);
  });

  it('rejects bad input with 4xx', async () => {
    const badUser = await call(p, bob, 'PUT', url('m.test', 'bad1'), { messages: { 'not-a-user': { D: {} } } });
    expect(badUser).toMatchObject({ status: 400, body: { errcode: 'M_INVALID_PARAM' } });
    const noMessages = await call(p, bob, 'PUT', url('m.test', 'bad2'), {});
    expect(noMessages.status).toBe(400);
    const nulTxn = await call(p, bob, 'PUT', url('m.test', 'a\u0000b'), { messages: {} });
    expect(nulTxn.status).toBe(400);
    const nulDevice = await call(p, bob, 'PUT', url('m.test', 'bad3'), { messages: { [alice.userId]: { ['\u0000']: {} } } });
    expect(nulDevice.status).toBe(400);
  });
});
