import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Db } from '../../../homeserver/storage/db.js';
import { migrateAll, openDatabase } from '../../../homeserver/storage/open-database.js';
import { createLogger } from '../../../homeserver/runtime/logger.js';
import { freshSchemaDb } from '../../helpers/database.js';

/** The same storage contract, run against both engines: the cluster's Postgres and the embedded server. */
function storageContract(name: string, open: () => Promise<Db>) {
  describe(`storage: ${name}`, () => {
    let db: Db;
    afterAll(() => db?.close());

    it('applies the numbered migrations once and in order', async () => {
      db = await open();
      const first = await migrateAll(db);
      expect(first[0]).toBe('hs/0001_accounts.sql');
      expect(first).toEqual([...first].sort());
      expect(await migrateAll(db)).toEqual([]);
      const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations');
      expect(rows[0]!.n).toBe(first.length);
    });

    it('commits a transaction and runs its after-commit hooks only then', async () => {
      const seen: string[] = [];
      await db.withTransaction(async (tx) => {
        await tx.query("INSERT INTO hs_signing_keys (key_id, seed, created_ts) VALUES ('ed25519:t1', '\\x00', 1)");
        tx.afterCommit(() => seen.push('committed'));
        expect(seen).toEqual([]);
      });
      expect(seen).toEqual(['committed']);
      expect((await db.query("SELECT 1 FROM hs_signing_keys WHERE key_id = 'ed25519:t1'")).rows).toHaveLength(1);
    });

    it('rolls back on error and skips the hooks', async () => {
      const seen: string[] = [];
      await expect(
        db.withTransaction(async (tx) => {
          await tx.query("INSERT INTO hs_signing_keys (key_id, seed, created_ts) VALUES ('ed25519:t2', '\\x00', 1)");
          tx.afterCommit(() => seen.push('committed'));
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect(seen).toEqual([]);
      expect((await db.query("SELECT 1 FROM hs_signing_keys WHERE key_id = 'ed25519:t2'")).rows).toHaveLength(0);
    });

    it('keeps BIGINT stream positions as numbers and runs fsync-on', async () => {
      const { rows } = await db.query<{ n: number; fsync: string }>(
        "SELECT 9007199254740991::bigint AS n, current_setting('fsync') AS fsync",
      );
      expect(rows[0]).toEqual({ n: 9007199254740991, fsync: 'on' });
    });
  });
}

storageContract('postgres (cluster)', () => freshSchemaDb());

const embeddedDir = mkdtempSync(join(tmpdir(), 'causeway-embedded-'));
afterAll(() => rmSync(embeddedDir, { recursive: true, force: true }));
storageContract('embedded postgres (single process)', () =>
  openDatabase({ engine: 'embedded', data_dir: embeddedDir, pool_size: 4 }, createLogger('silent')),
);
