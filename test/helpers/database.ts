import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDb, type Db } from '../../homeserver/storage/db.js';

/** The local Postgres every integration test uses (CI starts it; see .ci/run). */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A fresh schema of its own for one test file, dropped when closed. */
export async function freshSchemaDb(poolSize = 10): Promise<Db & { schema: string }> {
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const db = await openDb({ connection: { connectionString: TEST_DATABASE_URL }, poolSize, schema });
  return {
    ...db,
    schema,
    async close() {
      await db.close();
      const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await admin.connect();
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).finally(() => admin.end());
    },
  };
}
