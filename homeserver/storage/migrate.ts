import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Db } from './db.js';

/** A folder's numbered, forward-only migrations: NNNN_description.sql, applied in order. */
export interface MigrationSet {
  owner: string; // 'hs', 'as', 'bridge' — keeps names unique across folders
  dir: string;
}

const MIGRATOR_LOCK = 0x63617573; // arbitrary constant: one migrator at a time across processes

/** Applies every migration not yet recorded, each in its own transaction. Returns the names applied. */
export async function migrate(db: Db, sets: MigrationSet[]): Promise<string[]> {
  const applied: string[] = [];
  await db.withTransaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATOR_LOCK]);
    await tx.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`);
    const done = new Set((await tx.query<{ name: string }>('SELECT name FROM schema_migrations')).rows.map((r) => r.name));
    for (const set of sets) {
      for (const file of readdirSync(set.dir)
        .filter((f) => /^\d{4}_.*\.sql$/.test(f))
        .sort()) {
        const name = `${set.owner}/${file}`;
        if (done.has(name)) continue;
        await tx.query(readFileSync(join(set.dir, file), 'utf8'));
        await tx.query('INSERT INTO schema_migrations (name) VALUES ($1)', [name]);
        applied.push(name);
      }
    }
  });
  return applied;
}
