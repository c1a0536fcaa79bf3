import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisKeyedLock } from '../../../homeserver/runtime/redis-keyed-lock.js';

// Lease details the port contract cannot see. Needs Redis, like test/contract (no skipping).
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `causeway-test-lock-${process.pid}-${Date.now().toString(36)}`;

describe('RedisKeyedLock lease', () => {
  let client: Redis;
  beforeAll(async () => {
    client = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, retryStrategy: () => null });
    client.on('error', () => {});
    await client.ping().catch((err: Error) => {
      throw new Error(`Redis is required but not reachable at ${REDIS_URL}: ${err.message}`);
    });
  });
  afterAll(async () => {
    if (client.status !== 'ready') return client.disconnect();
    const keys = await client.keys(`${PREFIX}:*`);
    if (keys.length) await client.del(...keys);
    await client.quit();
  });
  const key = () => `k-${randomUUID()}`;

  it('renews the lease while held, so a holder longer than the ttl still excludes others', async () => {
    const errors: unknown[] = [];
    const a = new RedisKeyedLock({ client, prefix: PREFIX, ttlMs: 150, onError: (e) => errors.push(e) });
    const b = new RedisKeyedLock({ client, prefix: PREFIX, ttlMs: 150 });
    const k = key();
    const events: string[] = [];
    let bStarted!: Promise<void>;
    await a.withLock(k, async () => {
      events.push('a enter');
      bStarted = b.withLock(k, async () => void events.push('b enter'));
      await new Promise((r) => setTimeout(r, 600)); // four ttls
      events.push('a exit');
    });
    await bStarted;
    expect(events).toEqual(['a enter', 'a exit', 'b enter']);
    expect(errors).toEqual([]);
  });

  it('takes over the lease of a holder that died without releasing it, once it expires', async () => {
    const k = key();
    await client.set(`${PREFIX}:lock:${k}`, 'dead-process', 'PX', 200);
    const lock = new RedisKeyedLock({ client, prefix: PREFIX });
    expect(await lock.withLock(k, async () => 'got it')).toBe('got it');
    expect(await client.exists(`${PREFIX}:lock:${k}`)).toBe(0);
  });

  it('does not delete a lease that is no longer its own, and reports the loss', async () => {
    const errors: unknown[] = [];
    const lock = new RedisKeyedLock({ client, prefix: PREFIX, ttlMs: 90, onError: (e) => errors.push(e) });
    const k = key();
    const redisKey = `${PREFIX}:lock:${k}`;
    await lock.withLock(k, async () => {
      // Simulates our lease expiring and another process taking it.
      await client.set(redisKey, 'someone-else', 'PX', 10_000);
      await new Promise((r) => setTimeout(r, 100)); // let a renewal notice
    });
    expect(await client.get(redisKey)).toBe('someone-else');
    expect(errors.length).toBeGreaterThan(0);
  });
});
