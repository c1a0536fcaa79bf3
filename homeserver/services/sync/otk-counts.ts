import type { Queryable } from '../../storage/db.js';
import type { OtkCounts } from '../e2e/index.js';
import { readOtkCounts } from '../e2e/otk-counts-query.js';

/**
 * One-time and fallback key counts for sync responses, read for all concurrently syncing devices
 * in one query (the same figures as E2eKeys.otkCounts: unclaimed one-time keys per algorithm with
 * signed_curve25519 always present, and unused fallback key algorithms). The syncs one message
 * wakes all ask within the same turn of the event loop, so requests are gathered until
 * setImmediate (after those microtasks) and go out together: one round trip per wake-up instead
 * of two per sync.
 */
export class OtkCountsLoader {
  private waiting = new Map<string, { resolve: (v: OtkCounts) => void; reject: (e: unknown) => void }[]>();
  private scheduled = false;
  private loadMany: (keys: string[]) => Promise<Map<string, OtkCounts>>;

  constructor(db: Queryable) {
    this.loadMany = async (keys) => {
      const found = await readOtkCounts(
        db,
        keys.map((k) => k.split('\u0000') as [string, string]),
      );
      return new Map(keys.map((k, n) => [k, found[n]!]));
    };
  }

  load(userId: string, deviceId: string): Promise<OtkCounts> {
    const key = `${userId}\u0000${deviceId}`;
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

  private flush(): void {
    this.scheduled = false;
    const batch = this.waiting;
    this.waiting = new Map();
    this.loadMany([...batch.keys()]).then(
      (found) => {
        for (const [k, waiters] of batch) for (const w of waiters) w.resolve(found.get(k)!);
      },
      (err) => {
        for (const waiters of batch.values()) for (const w of waiters) w.reject(err);
      },
    );
  }
}
