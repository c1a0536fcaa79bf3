import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../../homeserver/platform.js';
import type { CryptoStore } from '../../../bridges/core/crypto-store/index.js';
import type { MatrixEvent } from '../../../bridges/core/matrix/transaction-receiver.js';
import { TransactionReceiver } from '../../../bridges/core/matrix/transaction-receiver.js';
import type { LoginId, RemoteChatId } from '../../../bridges/core/network/ids.js';
import { OutboxStore } from '../../../bridges/core/outbox/outbox-store.js';
import { buildPlatform, makeUser, enc, type TestUser } from '../../helpers/platform.js';
import { eventually, loginDirectly, startFakenetBridge, testCryptoStore, type TestBridge } from '../../helpers/bridge.js';
import { FakeNetwork } from '../../fakes/fakenet/index.js';

/**
 * The durable outbox: dedupe by Matrix event id, claims per worker and login, retries with
 * backoff for retryable network errors, and the Matrix-visible failure status at the end.
 */
let p: Platform;
let net: FakeNetwork;
let keys: CryptoStore;
let bridge: TestBridge;
let alice: TestUser;
let me: string;
let dm: string;
let roomId: string;

const matrix = async (method: string, path: string, body?: unknown): Promise<any> =>
  (await p.app.inject({ method: method as 'GET', url: path, headers: alice.auth, ...(body ? { payload: body as object } : {}) })).json();

const fakeEvent = (id: string): MatrixEvent => ({
  event_id: id,
  room_id: '!r:test.local',
  sender: '@u:test.local',
  type: 'm.room.message',
  content: { msgtype: 'm.text', body: id },
  origin_server_ts: 1,
});

beforeAll(async () => {
  p = await buildPlatform();
  await p.app.listen({ host: '127.0.0.1', port: 0 });
  const baseUrl = `http://127.0.0.1:${(p.app.server.address() as { port: number }).port}`;
  net = new FakeNetwork();
  me = net.addUser({ name: 'Me', phone: '+15550201' }).id;
  const bob = net.addUser({ name: 'Bob', phone: '+15550202' }).id;
  dm = net.dm(me, bob);
  keys = testCryptoStore(p.db);
  bridge = await startFakenetBridge({
    platform: p,
    baseUrl,
    net,
    keys,
    config: { outbox: { base_backoff_ms: 20, max_backoff_ms: 40, max_attempts: 3 }, backfill: { initial_limit: 0 } },
  });
  alice = await makeUser(p, 'alice');
  await loginDirectly(bridge.bridge, keys, net, alice.userId, me);
  net.send(bob, dm, 'hello');
  roomId = await eventually(async () => Object.keys((await matrix('GET', '/_matrix/client/v3/sync?timeout=0')).rooms?.invite ?? {})[0]);
  await matrix('POST', `/_matrix/client/v3/join/${enc(roomId)}`, {});
});

afterAll(async () => {
  await bridge?.stop();
  await p?.close();
});

describe('the outbox store', () => {
  it('queues a Matrix event once, however often its transaction is redelivered', async () => {
    const store = new OutboxStore(p.db, 'outbox-test');
    const key = { chatId: 'c1' as RemoteChatId };
    expect(await store.insert({ event: fakeEvent('$a'), key, loginId: 'l1' as LoginId })).toBe(true);
    expect(await store.insert({ event: fakeEvent('$a'), key, loginId: 'l1' as LoginId })).toBe(false);

    const handled: string[] = [];
    const receiver = new TransactionReceiver({
      onEvents: async (evs) => void handled.push(...evs.map((e) => e.event_id)),
      onEphemeral: async () => {},
    });
    await Promise.all([receiver.receive('t1', { events: [fakeEvent('$b')] }), receiver.receive('t1', { events: [fakeEvent('$b')] })]);
    await receiver.receive('t1', { events: [fakeEvent('$b')] });
    expect(handled).toEqual(['$b']);
  });

  it('hands a row to one claimer at a time, sweeps only unclaimed rows of the given logins, and never a sent one', async () => {
    const store = new OutboxStore(p.db, 'outbox-claims');
    const key = { chatId: 'c1' as RemoteChatId };
    await store.insert({ event: fakeEvent('$1'), key, loginId: 'l1' as LoginId });
    await store.insert({ event: fakeEvent('$2'), key, loginId: 'l2' as LoginId });
    expect(await store.unclaimed(['l9' as LoginId], 0, 10)).toEqual([]);
    const swept = await store.unclaimed(['l1', 'l2'] as LoginId[], 0, 10);
    expect(swept.map((r) => r.eventId)).toEqual(['$1', '$2']); // oldest first
    expect(await store.unclaimed(['l1', 'l2'] as LoginId[], swept[0]!.seq, 10)).toMatchObject([{ eventId: '$2' }]); // paging

    // The same job in two queues: one claim wins.
    const [w1, w2] = await Promise.all([store.claimOne('$1', 'w1', 60_000), store.claimOne('$1', 'w2', 60_000)]);
    expect([w1, w2].filter(Boolean)).toHaveLength(1);
    expect((await store.unclaimed(['l1', 'l2'] as LoginId[], 0, 10)).map((r) => r.eventId)).toEqual(['$2']);
    await store.release(['$1']);
    expect(await store.claimOne('$1', 'w2', 60_000)).toMatchObject({ eventId: '$1', attempts: 0 });
    await store.markSent('$1');
    await store.release(['$1']);
    expect(await store.claimOne('$1', 'w2', 60_000)).toBeUndefined(); // sent is never handed out again
    expect((await store.unclaimed(['l1'] as LoginId[], 0, 10)).map((r) => r.eventId)).toEqual([]);

    // A row waiting for its retry is not claimed before it is due; a sweep sees when it is due.
    const due = Date.now() + 60_000;
    await store.retryLater('$2', due, 'x: later');
    expect(await store.claimOne('$2', 'w1', 60_000)).toBeUndefined();
    expect(await store.unclaimed(['l2'] as LoginId[], 0, 10)).toMatchObject([{ eventId: '$2', attempts: 1, dueTs: due }]);
  });
});

describe('the outbox with a live bridge', () => {
  it('retries retryable failures with backoff and delivers once', async () => {
    net.failNextSend(me, 'transient');
    net.failNextSend(me, 'transient');
    const { event_id } = await matrix('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/r1`, {
      msgtype: 'm.text',
      body: 'third time lucky',
    });
    await eventually(async () => (await bridge.bridge.outbox.status(event_id))?.status === 'sent');
    expect(await bridge.bridge.outbox.status(event_id)).toEqual({ status: 'sent', attempts: 3, lastError: null });
    expect(net.messages(dm).filter((m) => net.textOf(m) === 'third time lucky')).toHaveLength(1);
  });

  it('gives up after max_attempts and marks the message failed in Matrix', async () => {
    for (let i = 0; i < 3; i++) net.failNextSend(me, 'transient');
    const { event_id } = await matrix('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/r2`, {
      msgtype: 'm.text',
      body: 'never arrives',
    });
    await eventually(async () => (await bridge.bridge.outbox.status(event_id))?.status === 'failed');
    const status = await eventually(async () => {
      const r = await matrix('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/messages?dir=b&limit=20`);
      return r.chunk.find((e: any) => e.type === 'com.beeper.message_send_status' && e.content['m.relates_to'].event_id === event_id);
    });
    expect(status.content).toMatchObject({ status: 'FAIL_RETRIABLE', reason: 'm.foreign_network_error', error: 'fakenet-send_failed' });
    expect(net.messages(dm).some((m) => net.textOf(m) === 'never arrives')).toBe(false);
  });

  it('does not send a message of an unsupported kind, and says so', async () => {
    const { event_id } = await matrix('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/r3`, {
      msgtype: 'org.example.poll',
      body: 'poll',
    });
    await eventually(async () => (await bridge.bridge.outbox.status(event_id))?.status === 'failed');
    expect((await bridge.bridge.outbox.status(event_id))?.attempts).toBe(1);
  });
});
