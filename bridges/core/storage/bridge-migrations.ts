import { fileURLToPath } from 'node:url';
import type { MigrationSet } from '../../../homeserver/storage/migrate.js';

/** The bridge core's migrations, applied with the homeserver's migrator under owner `bridge`. */
export const BRIDGE_MIGRATIONS: MigrationSet = {
  owner: 'bridge',
  dir: fileURLToPath(new URL('./migrations', import.meta.url)),
};
