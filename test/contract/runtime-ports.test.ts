import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type RuntimeOptions } from '../../homeserver/runtime/create-runtime.js';
import type { Runtime } from '../../homeserver/runtime/ports.js';
import { jobQueueContract } from './job-queue.contract.js';
import { keyedLockContract } from './keyed-lock.contract.js';
import { pubsubContract } from './pubsub.contract.js';
import { deferred, sleep, waitUntil } from './wait.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
// Unique per run, so parallel or leftover runs never share keys, queues or channels.
const PREFIX = `causeway-test-${process.pid}-${Date.now().toString(36)}`;

// Errors adapters report out of band (failed jobs, throwing listeners) are expected in some tests; keep them quiet.
const quiet = () => {};

const transports: { name: string; options: RuntimeOptions }[] = [
  { name: 'memory', options: { transport: 'memory', onError: quiet } },
  { name: 'redis', options: { transport: 'redis', redisUrl: REDIS_URL, prefix: PREFIX, onError: quiet } },
];

/** Redis is a CI requirement: fail the run with a clear message instead of skipping or hanging. */
let redisReachable = false;
async function assertRedisReachable(): Promise<void> {
  const probe = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 3000 });
  // The connection error event says why (e.g. ECONNREFUSED); the rejected connect() only says "Connection is closed".
  let why: Error | undefined;
  probe.on('error', (err: Error) => (why ??= err));
  try {
    await probe.connect();
    await probe.ping();
    redisReachable = true;
  } catch (err) {
    throw new Error(
      `Redis is required for the runtime contract tests but is not reachable at ${REDIS_URL} (set REDIS_URL, or start one: ` +
        `redis-server --daemonize yes --port 6379 --save "" --appendonly no): ${(why ?? (err as Error)).message}`,
      { cause: err },
    );
  } finally {
    probe.disconnect();
  }
}

/** Deletes every key this run created, so repeated runs do not fill the CI Redis. */
async function deleteRunKeys(): Promise<void> {
  if (!redisReachable) return;
  const client = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, retryStrategy: () => null });
  client.on('error', () => {});
  try {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${PREFIX}:*`, 'COUNT', 1000);
      if (keys.length) await client.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    await client.quit();
  }
}

beforeAll(assertRedisReachable);
afterAll(deleteRunKeys);

for (const { name, options } of transports) {
  describe(`runtime ports over ${name}`, () => {
    // Each make() opens a runtime, closed after its test, so every test starts clean and no handle outlives it.
    const open: Runtime[] = [];
    const runtime = () => {
      const rt = createRuntime(options);
      open.push(rt);
      return rt;
    };
    afterEach(async () => {
      await Promise.all(open.splice(0).map((rt) => rt.close()));
    });

    it(`reports transport '${name}'`, () => {
      expect(runtime().transport).toBe(name);
    });

    it('returns the same queue for the same name until it is closed', async () => {
      const rt = runtime();
      const queue = rt.jobs('same-name');
      expect(rt.jobs('same-name')).toBe(queue);
      await queue.close();
      expect(rt.jobs('same-name')).not.toBe(queue);
    });

    it('obliterate() deletes waiting and delayed jobs: the next queue of that name starts empty', async () => {
      const rt = runtime();
      const name = `obliterated-${Math.random().toString(36).slice(2)}`;
      const queue = rt.jobs<{ id: string }>(name);
      await queue.add({ id: 'waiting' });
      await queue.add({ id: 'delayed' }, { delayMs: 50 });
      await queue.obliterate();
      const fresh = rt.jobs<{ id: string }>(name);
      expect(fresh).not.toBe(queue);
      const seen: string[] = [];
      const service = fresh.process(async (job) => void seen.push(job.id));
      await service.start();
      await fresh.add({ id: 'after' });
      await waitUntil(() => seen.includes('after'), 'the job added after obliterate');
      await sleep(200); // past the delayed job's delay
      await service.stop();
      expect(seen).toEqual(['after']);
    });

    it("rejects a queue name containing ':'", () => {
      expect(() => runtime().jobs('bad:name')).toThrow();
    });

    let queueCounter = 0;
    jobQueueContract(name, async () => runtime().jobs(`q${++queueCounter}-${Math.random().toString(36).slice(2)}`));
    pubsubContract(name, async () => runtime().pubsub);
    keyedLockContract(name, async () => runtime().locks);
  });
}

// Behaviour only a shared transport has: two Runtimes with one prefix stand for two processes of a cluster.
describe('redis runtime across processes', () => {
  const open: Runtime[] = [];
  const process = () => {
    const rt = createRuntime({ transport: 'redis', redisUrl: REDIS_URL, prefix: PREFIX, onError: quiet });
    open.push(rt);
    return rt;
  };
  afterEach(async () => {
    await Promise.all(open.splice(0).map((rt) => rt.close()));
  });

  it('excludes a holder of the same key in another process', async () => {
    const [a, b] = [process(), process()];
    const key = `cross-${Math.random().toString(36).slice(2)}`;
    const events: string[] = [];
    const releaseA = deferred();
    const aHeld = deferred();
    const holdingA = a.locks.withLock(key, async () => {
      events.push('a enter');
      aHeld.resolve();
      await releaseA.promise;
      events.push('a exit');
    });
    await aHeld.promise;
    const waitingB = b.locks.withLock(key, async () => void events.push('b enter'));
    await sleep(300); // B polls Redis several times meanwhile; it must not get in
    expect(events).toEqual(['a enter']);
    releaseA.resolve();
    await Promise.all([holdingA, waitingB]);
    expect(events).toEqual(['a enter', 'a exit', 'b enter']);
  });

  it('delivers a message to subscribers in every process', async () => {
    const [a, b] = [process(), process()];
    const topic = `cross-${Math.random().toString(36).slice(2)}`;
    const gotA: unknown[] = [];
    const gotB: unknown[] = [];
    await a.pubsub.subscribe(topic, (m) => gotA.push(m));
    await b.pubsub.subscribe(topic, (m) => gotB.push(m));
    await a.pubsub.publish(topic, { from: 'a' });
    await waitUntil(() => gotA.length === 1 && gotB.length === 1, 'both processes');
    expect(gotB).toEqual([{ from: 'a' }]);
  });

  it('shares one queue between processes: a job added in one runs once, in another', async () => {
    const [producer, consumerA, consumerB] = [process(), process(), process()];
    const name = `shared-${Math.random().toString(36).slice(2)}`;
    const seen: string[] = [];
    const services = [consumerA, consumerB].map((rt, i) =>
      rt.jobs<{ n: number }>(name).process(async (job) => void seen.push(`${job.n}@${i}`)),
    );
    await Promise.all(services.map((s) => s.start()));
    for (let n = 0; n < 10; n++) await producer.jobs<{ n: number }>(name).add({ n }, { jobId: `job-${n}` });
    await waitUntil(() => seen.length >= 10, 'all jobs');
    await sleep(100);
    expect(seen.map((s) => s.split('@')[0]).sort((x, y) => Number(x) - Number(y))).toEqual(Array.from({ length: 10 }, (_, n) => `${n}`));
  });
});
