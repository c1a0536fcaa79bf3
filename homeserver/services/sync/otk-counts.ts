import type { Queryable } from '../../storage/db.js';
import { CoalescingLoader } from '../../storage/coalescing-loader.js';
import type { OtkCounts } from '../e2e/index.js';

/**
 * One-time and fallback key counts for sync responses, read for all concurrently syncing devices
 * in one query (the same figures as E2eKeys.otkCounts: unclaimed one-time keys per algorithm with
 * signed_curve25519 always present, and unused fallback key algorithms). Syncs woken together by
 * one message share a round trip instead of making two each.
 */
export class OtkCountsLoader {
  private loader: CoalescingLoader<string, OtkCounts>;

  constructor(db: Queryable) {
    this.loader = new CoalescingLoader<string, OtkCounts>(
      async (keys) => {
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
      },
      { device_one_time_keys_count: { signed_curve25519: 0 }, device_unused_fallback_key_types: [] },
    );
  }

  load(userId: string, deviceId: string): Promise<OtkCounts> {
    return this.loader.load(`${userId}\u0000${deviceId}`);
  }
}
