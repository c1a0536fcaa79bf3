import type { Config } from '../homeserver/config.js';
import { createLogger } from '../homeserver/runtime/logger.js';
import { AccessTokenStore } from '../homeserver/services/accounts/access-tokens.js';
import { Accounts } from '../homeserver/services/accounts/accounts.js';
import { migrateAll, openDatabase } from '../homeserver/storage/open-database.js';
import { createRuntime } from '../homeserver/runtime/create-runtime.js';

/** The admin CLI's account creation, for closed servers (no HTTP involved). */
export async function createUser(config: Config, localpart: string, password: string, admin: boolean): Promise<string> {
  const log = createLogger('warn');
  const db = await openDatabase(config.database, log);
  const runtime = createRuntime({ transport: 'memory' });
  try {
    await migrateAll(db);
    const accounts = new Accounts(db, new AccessTokenStore(db, runtime.pubsub), config.server_name);
    const { userId } = await accounts.register({ localpart: localpart.toLowerCase(), password, admin });
    return userId;
  } finally {
    await runtime.close();
    await db.close();
  }
}
