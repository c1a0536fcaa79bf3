import { randomBytes } from 'node:crypto';
import { createPlatform, type Platform } from '../../homeserver/platform.js';
import { createLogger } from '../../homeserver/runtime/logger.js';
import { openDb } from '../../homeserver/storage/db.js';
import { freshSchemaDb, TEST_DATABASE_URL } from './database.js';
import { testConfig } from './platform.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * Two platforms on one database schema with the Redis runtime (a fresh key prefix): what one
 * process writes, the other learns only through Postgres and Redis pub/sub, as two cluster nodes.
 */
export async function twoProcesses(prefixLabel: string): Promise<{ a: Platform; b: Platform; close(): Promise<void> }> {
  const config = testConfig({
    runtime: { transport: 'redis', redis_url: REDIS_URL, redis_prefix: `${prefixLabel}_${randomBytes(4).toString('hex')}` },
  });
  const dbA = await freshSchemaDb();
  const dbB = await openDb({ connection: { connectionString: TEST_DATABASE_URL }, poolSize: 10, schema: dbA.schema });
  const a = await createPlatform({ config, db: dbA, log: createLogger('silent') });
  const b = await createPlatform({ config, db: dbB, log: createLogger('silent') });
  return {
    a,
    b,
    async close() {
      await a.close();
      await b.close();
      await dbB.close();
      await dbA.close();
    },
  };
}
