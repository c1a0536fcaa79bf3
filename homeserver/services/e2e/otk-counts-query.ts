import type { Queryable } from '../../storage/db.js';
import type { OtkCounts } from './keys.js';

/**
 * Unclaimed one-time keys per algorithm (signed_curve25519 always present) and unused fallback
 * key algorithms, for any number of devices in one query; results in the order of `devices`.
 */
export async function readOtkCounts(db: Queryable, devices: [userId: string, deviceId: string][]): Promise<OtkCounts[]> {
  const { rows } = await db.query<{ counts: Record<string, number> | null; fallbacks: string[] | null }>(
    `SELECT (SELECT json_object_agg(c.algorithm, c.n) FROM (SELECT algorithm, count(*) AS n FROM hs_e2e_one_time_keys k
               WHERE k.user_id = x.u AND k.device_id = x.d GROUP BY algorithm) c) AS counts,
            (SELECT array_agg(f.algorithm ORDER BY f.algorithm) FROM hs_e2e_fallback_keys f
               WHERE f.user_id = x.u AND f.device_id = x.d AND NOT f.used) AS fallbacks
       FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS x(u, d, n) ORDER BY x.n`,
    [devices.map((d) => d[0]), devices.map((d) => d[1])],
  );
  return rows.map((r) => {
    // Older clients treat a missing signed_curve25519 count as "unknown" rather than zero.
    const device_one_time_keys_count: Record<string, number> = { signed_curve25519: 0 };
    for (const [alg, n] of Object.entries(r.counts ?? {})) device_one_time_keys_count[alg] = Number(n);
    return { device_one_time_keys_count, device_unused_fallback_key_types: r.fallbacks ?? [] };
  });
}
