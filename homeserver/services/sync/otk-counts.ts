import type { Queryable } from '../../storage/db.js';
import type { OtkCounts } from '../e2e/index.js';
import type { DeviceRef } from '../e2e/otk-change-feed.js';
import { readOtkCounts } from '../e2e/otk-counts-query.js';

const DEFAULT_MAX_ENTRIES = 100_000;

/**
 * One-time and fallback key counts for sync responses (the same figures as E2eKeys.otkCounts).
 *
 * Counts change only when a device uploads keys, someone claims one, or the device is deleted,
 * while every sync response carries them: so they are kept in memory per device and dropped on
 * every change (`invalidate`, fed by OtkChangeFeed from this and other processes). A woken sync
 * then needs no database round trip at all. Misses of the syncs one message wakes are gathered
 * until setImmediate and read in one query.
 *
 * A read that was in flight while any invalidation happened is answered but not kept: it may have
 * read the counts from before the change.
 */
export class OtkCountsCache {
  private cache = new Map<string, OtkCounts>();
  private waiting = new Map<string, { resolve: (v: OtkCounts) => void; reject: (e: unknown) => void }[]>();
  private scheduled = false;
  private invalidations = 0;

  constructor(
    private db: Queryable,
    private maxEntries = DEFAULT_MAX_ENTRIES,
  ) {}

  load(userId: string, deviceId: string): Promise<OtkCounts> {
    const key = `${userId}\u0000${deviceId}`;
    const hit = this.cache.get(key);
    if (hit) {
      // Re-inserted so the Map's order is least recently used first.
      this.cache.delete(key);
      this.cache.set(key, hit);
      return Promise.resolve(hit);
    }
    return new Promise((resolve, reject) => {
      const list = this.waiting.get(key);
      if (list) list.push({ resolve, reject });
      else this.waiting.set(key, [{ resolve, reject }]);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Drops the counts of these devices (device id '*': every device of the user). */
  invalidate(devices: DeviceRef[]): void {
    this.invalidations++;
    for (const [userId, deviceId] of devices) {
      if (deviceId !== '*') this.cache.delete(`${userId}\u0000${deviceId}`);
      else for (const key of this.cache.keys()) if (key.startsWith(`${userId}\u0000`)) this.cache.delete(key);
    }
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.waiting;
    this.waiting = new Map();
    const keys = [...batch.keys()];
    const before = this.invalidations;
    readOtkCounts(
      this.db,
      keys.map((k) => k.split('\u0000') as [string, string]),
    ).then(
      (found) => {
        const keep = this.invalidations === before;
        keys.forEach((k, n) => {
          const counts = found[n]!;
          if (keep) this.remember(k, counts);
          for (const w of batch.get(k)!) w.resolve(counts);
        });
      },
      (err) => {
        for (const waiters of batch.values()) for (const w of waiters) w.reject(err);
      },
    );
  }

  private remember(key: string, counts: OtkCounts): void {
    this.cache.set(key, counts);
    if (this.cache.size > this.maxEntries) this.cache.delete(this.cache.keys().next().value!);
  }
}
