import type { Queryable } from '../../storage/db.js';
import type { OtkCounts } from '../e2e/index.js';

const NONE: OtkCounts = { device_one_time_keys_count: { signed_curve25519: 0 }, device_unused_fallback_key_types: [] };

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
      const pairs = keys.map((k) => k.split('\u0000') as [string, string]);
      const { rows } = await db.query<{ u: string; d: string; counts: Record<string, number> | null; fallbacks: string[] | null }>(
        `SELECT x.u, x.d,
             (SELECT json_object_agg(c.algorithm, c.n) FROM (SELECT algorithm, count(*) AS n FROM hs_e2e_one_time_keys k
                WHERE k.user_id = x.u AND k.device_id = x.d GROUP BY algorithm) c) AS counts,
             (SELECT array_agg(f.algorithm ORDER BY f.algorithm) FROM hs_e2e_fallback_keys f
                WHERE f.user_id = x.u AND f.device_id = x.d AND NOT f.used) AS fallbacks
           FROM unnest($1::text[], $2::text[]) AS x(u, d)`,
        [pairs.map((p) => p[0]), pairs.map((p) => p[1])],
      );
      const out = new Map<string, OtkCounts>();
      for (const r of rows) {
        // Older clients treat a missing signed_curve25519 count as "unknown" rather than zero.
        const device_one_time_keys_count: Record<string, number> = { signed_curve25519: 0 };
        for (const [alg, n] of Object.entries(r.counts ?? {})) device_one_time_keys_count[alg] = Number(n);
        out.set(`${r.u}\u0000${r.d}`, { device_one_time_keys_count, device_unused_fallback_key_types: r.fallbacks ?? [] });
      }
      return out;
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
        for (const [k, waiters] of batch) for (const w of waiters) w.resolve(found.get(k) ?? NONE);
      },
      (err) => {
        for (const waiters of batch.values()) for (const w of waiters) w.reject(err);
      },
    );
  }
}
