import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BRIDGE_MIGRATIONS } from '../../../bridges/core/storage/bridge-migrations.js';
import { GhostStore } from '../../../bridges/core/storage/ghosts.js';
import type { RemoteUserId } from '../../../bridges/core/network/ids.js';
import { migrate } from '../../../homeserver/storage/migrate.js';
import { freshSchemaDb } from '../../helpers/database.js';

let db: Awaited<ReturnType<typeof freshSchemaDb>>;

beforeAll(async () => {
  db = await freshSchemaDb(20);
  await migrate(db, [BRIDGE_MIGRATIONS]);
});
afterAll(async () => {
  await db?.close();
});

describe('GhostStore.getOrCreate', () => {
  it('many portals creating the same ghost at once all get the one row (the mxid index must not fail the losers)', async () => {
    const store = new GhostStore(db, 'race');
    for (let round = 0; round < 10; round++) {
      const remote = `sender${round}` as RemoteUserId;
      const mxid = `@race_sender${round}:test.local`;
      const results = await Promise.allSettled(Array.from({ length: 20 }, () => store.getOrCreate(remote, mxid)));
      expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
      for (const r of results) expect((r as PromiseFulfilledResult<{ mxid: string }>).value.mxid).toBe(mxid);
    }
    const { rows } = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM bridge_ghosts WHERE bridge_id = 'race'");
    expect(rows[0]!.n).toBe(10);
  });
});
