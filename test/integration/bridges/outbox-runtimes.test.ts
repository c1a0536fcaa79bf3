import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CryptoStore } from '../../../bridges/core/crypto-store/index.js';
import type { MatrixEvent } from '../../../bridges/core/matrix/transaction-receiver.js';
import type { LoginId, PortalKey } from '../../../bridges/core/network/ids.js';
import { outboxJob, outboxJobId, outboxQueueName, type OutboxJob } from '../../../bridges/core/outbox/outbox-job.js';
import { OutboxStore } from '../../../bridges/core/outbox/outbox-store.js';
import { OutboxWorkers } from '../../../bridges/core/outbox/outbox-workers.js';
import type { Platform } from '../../../homeserver/platform.js';
import { createRuntime } from '../../../homeserver/runtime/create-runtime.js';
import type { Runtime } from '../../../homeserver/runtime/ports.js';
import { FakeNetwork } from '../../fakes/fakenet/index.js';
import { eventually, loginDirectly, startFakenetBridge, testCryptoStore, type TestBridge } from '../../helpers/bridge.js';
import { buildPlatform, enc, makeUser, type TestUser } from '../../helpers/platform.js';

/**
 * The outbox on both runtimes: jobs through the in-process queue (memory) and through BullMQ
 * (Redis), one queue per bridge worker, the Postgres row as the record. Each scenario checks
 * what the network and Matrix end up with: delivered once, retried, failed visibly, handed over
 * with the login to another worker, redone from a dead worker's queue, pruned.
 */
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const BRIDGE = 'fakenet';
const CONFIG = {
  // A retry waits long enough for a worker to be stopped while the retry is queued.
  outbox: { base_backoff_ms: 1_500, max_backoff_ms: 1_500, max_attempts: 3, retention_hours: 1 },
  backfill: { initial_limit: 0 },
};
// Past the tests' lease TTL (3 s), as in production: a stopped worker's queue is deleted 4 s after its last beat.
const OUTBOX = { pollMs: 200, queueExpiryMs: 4_000, pruneIntervalMs: 300 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const mode of ['memory', 'redis'] as const) {
  describe(`the outbox on the ${mode} runtime`, () => {
    const prefix = `causeway-outbox-test-${process.pid}-${Date.now().toString(36)}-${mode}`;
    let p: Platform;
    let secondRuntime: Runtime;
    let redis: Redis | undefined;
    let net: FakeNetwork;
    let keys: CryptoStore;
    let bridge: TestBridge;
    let first: TestBridge | undefined;
    let alice: TestUser;
    let me: string;
    let dm: string;
    let roomId: string;
    let baseUrl: string;
    const sentIds: Record<string, string> = {};

    const matrix = async (method: string, path: string, body?: unknown): Promise<any> =>
      (
        await p.app.inject({ method: method as 'GET', url: path, headers: alice.auth, ...(body ? { payload: body as object } : {}) })
      ).json();
    let txn = 0;
    const send = async (body: string): Promise<string> =>
      (await matrix('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/t${++txn}`, { msgtype: 'm.text', body })).event_id;
    const onNetwork = (body: string) => net.messages(dm).filter((m) => net.textOf(m) === body).length;
    const status = (eventId: string) => bridge.bridge.outbox.status(eventId);
    const store = () => new OutboxStore(p.db, BRIDGE);
    const portalKey = async (): Promise<PortalKey> => {
      const row = (await bridge.bridge.portalDeps.portals.getByRoom(roomId))!;
      return { chatId: row.chatId, ...(row.receiver ? { receiver: row.receiver } : {}) };
    };
    const matrixEvent = (eventId: string, body: string): MatrixEvent => ({
      event_id: eventId,
      room_id: roomId,
      sender: alice.userId,
      type: 'm.room.message',
      content: { msgtype: 'm.text', body },
      origin_server_ts: Date.now(),
    });
    /** Keys of a worker's queue in Redis (none in memory mode, where queues live in the process). */
    const queueKeys = async (workerId: string) => (redis ? await redis.keys(`${prefix}:jobs:${outboxQueueName(BRIDGE, workerId)}:*`) : []);
    const registered = async (workerId: string) =>
      (await p.db.query('SELECT 1 FROM bridge_outbox_workers WHERE bridge_id = $1 AND worker_id = $2', [BRIDGE, workerId])).rowCount;

    beforeAll(async () => {
      const runtimeConfig = { transport: 'redis', redis_url: REDIS_URL, redis_prefix: prefix };
      p = await buildPlatform(mode === 'redis' ? { runtime: runtimeConfig } : {});
      expect(p.runtime.transport).toBe(mode);
      // Another process of the cluster has its own connections; in memory mode every worker is in this process.
      secondRuntime = mode === 'redis' ? createRuntime({ transport: 'redis', redisUrl: REDIS_URL, prefix }) : p.runtime;
      if (mode === 'redis') redis = new Redis(REDIS_URL);
      await p.app.listen({ host: '127.0.0.1', port: 0 });
      baseUrl = `http://127.0.0.1:${(p.app.server.address() as { port: number }).port}`;
      net = new FakeNetwork();
      me = net.addUser({ name: 'Me', phone: '+15550301' }).id;
      const bob = net.addUser({ name: 'Bob', phone: '+15550302' }).id;
      dm = net.dm(me, bob);
      keys = testCryptoStore(p.db);
      bridge = await startFakenetBridge({ platform: p, baseUrl, net, keys, config: CONFIG, outbox: OUTBOX });
      alice = await makeUser(p, 'alice');
      await loginDirectly(bridge.bridge, keys, net, alice.userId, me);
      net.send(bob, dm, 'hello');
      roomId = await eventually(async () => Object.keys((await matrix('GET', '/_matrix/client/v3/sync?timeout=0')).rooms?.invite ?? {})[0]);
      await matrix('POST', `/_matrix/client/v3/join/${enc(roomId)}`, {});
    });

    afterAll(async () => {
      await first?.stop();
      await bridge?.stop();
      if (secondRuntime !== p?.runtime) await secondRuntime?.close();
      await p?.close();
      if (redis) {
        const left = await redis.keys(`${prefix}:*`);
        if (left.length) await redis.del(...left);
        await redis.quit();
      }
    });

    it('delivers a Matrix message once, and counts it pending only until then', async () => {
      const eventId = await send('sent once');
      await eventually(async () => (await status(eventId))?.status === 'sent');
      expect(await status(eventId)).toEqual({ status: 'sent', attempts: 1, lastError: null });
      await sleep(500); // several safety sweeps
      expect(onNetwork('sent once')).toBe(1);
      expect(bridge.bridge.outbox.pendingCount()).toBe(0);
      sentIds.once = eventId;
    });

    it('queues a redelivered event once, however often and concurrently it comes', async () => {
      const ev = matrixEvent(`$redelivered-${mode}`, 'redelivered');
      const key = await portalKey();
      await Promise.all([0, 1, 2].map(() => bridge.bridge.outbox.enqueue(ev, key, me as LoginId)));
      await eventually(async () => (await status(ev.event_id))?.status === 'sent');
      await bridge.bridge.outbox.enqueue(ev, key, me as LoginId);
      await sleep(500);
      expect(onNetwork('redelivered')).toBe(1);
      expect((await status(ev.event_id))?.attempts).toBe(1);
    });

    it('retries a retryable failure with backoff, then delivers once', async () => {
      net.failNextSend(me, 'transient');
      net.failNextSend(me, 'transient');
      const eventId = await send('third time lucky');
      await eventually(async () => (await status(eventId))?.status === 'sent');
      expect(await status(eventId)).toEqual({ status: 'sent', attempts: 3, lastError: null });
      expect(onNetwork('third time lucky')).toBe(1);
      sentIds.retried = eventId;
    });

    it('gives up after max_attempts and shows the failure in Matrix', async () => {
      for (let i = 0; i < 3; i++) net.failNextSend(me, 'transient');
      const eventId = await send('never arrives');
      await eventually(async () => (await status(eventId))?.status === 'failed');
      expect((await status(eventId))?.attempts).toBe(3);
      const failure = await eventually(async () => {
        const r = await matrix('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/messages?dir=b&limit=30`);
        return r.chunk.find((e: any) => e.type === 'com.beeper.message_send_status' && e.content['m.relates_to'].event_id === eventId);
      });
      expect(failure.content).toMatchObject({ status: 'FAIL_RETRIABLE', reason: 'm.foreign_network_error' });
      expect(onNetwork('never arrives')).toBe(0);
      sentIds.failed = eventId;
    });

    it('hands pending sends over with the login to another worker, each delivered once, and deletes the old queue', async () => {
      const second = await startFakenetBridge({ platform: p, baseUrl, net, keys, config: CONFIG, outbox: OUTBOX, runtime: secondRuntime });
      expect(second.bridge.pool.client(me as LoginId)).toBeUndefined(); // the first worker holds the lease
      net.failNextSend(me, 'transient');
      const pending = await send('pending at handover');
      await eventually(async () => (await status(pending))?.attempts === 1); // its retry is queued in the first worker
      first = bridge;
      const firstWorker = first.bridge.workerId;
      await first.stop();
      bridge = second;
      if (mode === 'redis') expect((await queueKeys(firstWorker)).length).toBeGreaterThan(0); // the retry job left behind
      const after = await send('sent during the handover');
      await eventually(() => second.bridge.pool.client(me as LoginId));
      await eventually(async () => (await status(pending))?.status === 'sent' && (await status(after))?.status === 'sent');
      await sleep(500);
      expect(onNetwork('pending at handover')).toBe(1);
      expect(onNetwork('sent during the handover')).toBe(1);
      expect(await status(pending)).toMatchObject({ status: 'sent', attempts: 2 });
      // The stopped worker's queue is deleted once it has been silent for queueExpiryMs.
      await eventually(async () => (await registered(firstWorker)) === 0, 100);
      expect(await queueKeys(firstWorker)).toEqual([]);
      expect(await registered(second.bridge.workerId)).toBe(1);
    });

    it("redoes a dead worker's job from Postgres once, even with the job duplicated, and deletes its queue", async () => {
      const dead = `dead-worker-${mode}`;
      const ev = matrixEvent(`$orphan-${mode}`, 'left by a dead worker');
      const key = await portalKey();
      // The dead worker: registered long ago, its job still in its queue, its claim on the row about to expire.
      await new OutboxWorkers(p.db, BRIDGE).beat(dead, Date.now() - 600_000);
      expect(await store().insert({ event: ev, key, loginId: me as LoginId })).toBe(true);
      await p.db.query('UPDATE bridge_outbox SET claimed_by = $3, claimed_until = $4 WHERE bridge_id = $1 AND event_id = $2', [
        BRIDGE,
        ev.event_id,
        dead,
        Date.now() + 1_000,
      ]);
      const job: OutboxJob = outboxJob({ eventId: ev.event_id, loginId: me as LoginId, key, attempts: 0 });
      await p.runtime.jobs<OutboxJob>(outboxQueueName(BRIDGE, dead)).add(job, { jobId: outboxJobId(job), attempts: 1 });
      // The same job also reaches the live worker twice (as a reroute and a sweep could): the claim lets one through.
      const live = p.runtime.jobs<OutboxJob>(outboxQueueName(BRIDGE, bridge.bridge.workerId));
      await live.add(job, { jobId: outboxJobId(job), attempts: 1 });
      await live.add({ ...job, attempts: 5 }, { jobId: outboxJobId({ ...job, attempts: 5 }), attempts: 1 });

      await eventually(async () => (await status(ev.event_id))?.status === 'sent');
      await sleep(600);
      expect(onNetwork('left by a dead worker')).toBe(1);
      expect((await status(ev.event_id))?.attempts).toBe(1);
      await eventually(async () => (await registered(dead)) === 0, 100);
      expect(await queueKeys(dead)).toEqual([]);
    });

    it('recovers when another worker took it for dead and deleted its queue', async () => {
      const workerId = bridge.bridge.workerId;
      const runtime = mode === 'redis' ? secondRuntime : p.runtime; // the live worker's own runtime
      await runtime.jobs(outboxQueueName(BRIDGE, workerId)).obliterate();
      await p.db.query('DELETE FROM bridge_outbox_workers WHERE bridge_id = $1 AND worker_id = $2', [BRIDGE, workerId]);
      await eventually(async () => (await registered(workerId)) === 1, 50); // its next heartbeat reopens the queue
      const eventId = await send('after the queue was deleted');
      await eventually(async () => (await status(eventId))?.status === 'sent');
      await sleep(300);
      expect(onNetwork('after the queue was deleted')).toBe(1);
    });

    it('prunes done rows past the retention in the background, keeps pending ones, and a pruned message is still sent once', async () => {
      const nobody = matrixEvent(`$no-login-${mode}`, 'for a login that runs nowhere');
      expect(await store().insert({ event: nobody, key: await portalKey(), loginId: 'nobody' as LoginId })).toBe(true);
      const twoHoursAgo = Date.now() - 2 * 3_600_000;
      await p.db.query('UPDATE bridge_outbox SET done_ts = $3, created_ts = $3 WHERE bridge_id = $1 AND event_id = ANY($2)', [
        BRIDGE,
        [sentIds.once, sentIds.failed],
        twoHoursAgo,
      ]);
      await p.db.query('UPDATE bridge_outbox SET created_ts = $3 WHERE bridge_id = $1 AND event_id = $2', [
        BRIDGE,
        nobody.event_id,
        twoHoursAgo,
      ]);
      await eventually(async () => (await status(sentIds.once!)) === undefined && (await status(sentIds.failed!)) === undefined, 100);
      expect((await status(nobody.event_id))?.status).toBe('pending');
      expect((await status(sentIds.retried!))?.status).toBe('sent'); // done within the retention

      // Its transaction redelivered after pruning: queued again, but the message mapping knows it was sent.
      const original = await matrix('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/event/${enc(sentIds.once!)}`);
      await bridge.bridge.outbox.enqueue(original as MatrixEvent, await portalKey(), me as LoginId);
      await eventually(async () => (await status(sentIds.once!))?.status === 'sent');
      expect(onNetwork('sent once')).toBe(1);
    });
  });
}
