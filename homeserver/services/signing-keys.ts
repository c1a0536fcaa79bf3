import type { Queryable } from '../storage/db.js';
import { generateSigningKey, signingKeyFromSeed, type SigningKey } from '../matrix/signing.js';

/**
 * The server's event-signing key: generated on first start and stored, so every process of a
 * cluster (and every restart) signs with the same key. Concurrent first starts converge on the
 * oldest key row.
 */
export async function loadOrCreateSigningKey(db: Queryable): Promise<SigningKey> {
  const current = async () =>
    (
      await db.query<{ key_id: string; seed: Buffer }>(
        'SELECT key_id, seed FROM hs_signing_keys WHERE expired_ts IS NULL ORDER BY created_ts, key_id LIMIT 1',
      )
    ).rows[0];
  let row = await current();
  if (!row) {
    const key = generateSigningKey();
    await db.query('INSERT INTO hs_signing_keys (key_id, seed, created_ts) VALUES ($1,$2,$3) ON CONFLICT DO NOTHING', [
      key.keyId,
      key.seed,
      Date.now(),
    ]);
    row = (await current())!;
  }
  return signingKeyFromSeed(row.seed, row.key_id.replace(/^ed25519:/, ''));
}
