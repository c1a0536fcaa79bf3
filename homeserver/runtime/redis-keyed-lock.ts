import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { MemoryKeyedLock } from './memory-keyed-lock.js';
import { defaultErrorHandler, type KeyedLock, type RuntimeErrorHandler } from './ports.js';

// Compare-and-delete / compare-and-extend: only the holder's token may release or renew, so a holder whose lease
// expired (e.g. a long GC pause) cannot free or prolong the lease a new holder now has.
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;
const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;

export interface RedisKeyedLockOptions {
  /** A command connection owned by the caller (no blocking commands are sent on it). */
  client: Redis;
  /** Key prefix, so deployments (and test runs) sharing a Redis never contend. */
  prefix: string;
  /** Lease length: how long a crashed holder blocks others. Renewed every ttl/3 while held. Default 10s. */
  ttlMs?: number;
  onError?: RuntimeErrorHandler;
}

/**
 * A cluster-wide keyed lock: a Redis lease (`SET key token NX PX ttl`) renewed while held and released by
 * compare-and-delete. Callers in this process first queue on an in-process FIFO lock, so only the head of each
 * key's queue polls Redis: same-process callers are FIFO without polling. Across processes, waiters retry with
 * small jittered sleeps, so cross-process order is not FIFO (only mutual exclusion is guaranteed).
 */
export class RedisKeyedLock implements KeyedLock {
  private readonly local = new MemoryKeyedLock();
  private readonly ttlMs: number;
  private readonly onError: RuntimeErrorHandler;
  private closed = false;

  constructor(private readonly opts: RedisKeyedLockOptions) {
    this.ttlMs = opts.ttlMs ?? 10_000;
    this.onError = opts.onError ?? defaultErrorHandler;
  }

  withLock<R>(key: string, fn: () => Promise<R>): Promise<R> {
    return this.local.withLock(key, async () => {
      const redisKey = `${this.opts.prefix}:lock:${key}`;
      const token = await this.acquire(redisKey);
      const renewal = setInterval(() => void this.renew(redisKey, token), Math.max(1, Math.floor(this.ttlMs / 3)));
      // Renewal must not keep the process alive on its own; whoever runs fn does.
      renewal.unref();
      try {
        return await fn();
      } finally {
        clearInterval(renewal);
        await this.release(redisKey, token);
      }
    });
  }

  /** Stops waiters from polling further (they reject); held leases are released by their holders or expire. */
  close(): void {
    this.closed = true;
  }

  private async acquire(redisKey: string): Promise<string> {
    const token = randomUUID();
    for (let attempt = 0; ; attempt++) {
      if (this.closed) throw new Error('keyed lock is closed');
      if ((await this.opts.client.set(redisKey, token, 'PX', this.ttlMs, 'NX')) === 'OK') return token;
      // 5ms growing to 100ms, jittered ±50% so waiters in different processes do not retry in lockstep.
      const base = Math.min(100, 5 * 1.5 ** attempt);
      await sleep(base * (0.5 + Math.random()));
    }
  }

  private async renew(redisKey: string, token: string): Promise<void> {
    try {
      const renewed = await this.opts.client.eval(RENEW, 1, redisKey, token, this.ttlMs);
      if (renewed !== 1) this.onError(new Error(`lease on ${redisKey} was lost while held`), 'keyed lock renewal');
    } catch (err) {
      this.onError(err, 'keyed lock renewal');
    }
  }

  private async release(redisKey: string, token: string): Promise<void> {
    // A failed release must not replace fn's result or error; the lease then simply expires after ttlMs.
    try {
      await this.opts.client.eval(RELEASE, 1, redisKey, token);
    } catch (err) {
      this.onError(err, 'keyed lock release');
    }
  }
}
