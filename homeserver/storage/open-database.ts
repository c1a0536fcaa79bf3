import { fileURLToPath } from 'node:url';
import type { Config } from '../config-schema.js';
import type { Logger } from '../runtime/logger.js';
import { openDb, type Db } from './db.js';
import { startEmbeddedPostgres } from './embedded-postgres.js';
import { migrate, type MigrationSet } from './migrate.js';

export const HOMESERVER_MIGRATIONS: MigrationSet = {
  owner: 'hs',
  dir: fileURLToPath(new URL('./migrations', import.meta.url)),
};

/** Opens the configured database (starting the embedded server if that is the engine). */
export async function openDatabase(cfg: Config['database'], log: Logger): Promise<Db> {
  if (cfg.engine === 'postgres') {
    return openDb({ connection: { connectionString: cfg.url }, poolSize: cfg.pool_size, schema: cfg.schema });
  }
  const server = await startEmbeddedPostgres(cfg.data_dir, log);
  const db = await openDb({ connection: server.connection, poolSize: cfg.pool_size, schema: cfg.schema });
  return {
    ...db,
    async close() {
      await db.close();
      await server.stop();
    },
  };
}

export async function migrateAll(db: Db, extra: MigrationSet[] = []): Promise<string[]> {
  return migrate(db, [HOMESERVER_MIGRATIONS, ...extra]);
}
