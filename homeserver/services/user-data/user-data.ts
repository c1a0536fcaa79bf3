import type { Config } from '../../config-schema.js';
import type { Logger } from '../../runtime/logger.js';
import type { PubSub } from '../../runtime/ports.js';
import type { Db } from '../../storage/db.js';
import type { Accounts } from '../accounts/accounts.js';
import type { UserCache } from '../accounts/user-cache.js';
import type { RoomInput } from '../rooms/room-input.js';
import type { RoomStateCache } from '../rooms/room-state-cache.js';
import { AccountData } from './account-data.js';
import { Filters } from './filters.js';
import { Presence } from './presence.js';
import { Profiles } from './profile.js';
import { PushRules } from './push/push-rules.js';
import { UserDirectory } from './user-directory.js';

export interface UserDataDeps {
  config: Config;
  db: Db;
  pubsub: PubSub;
  log: Logger;
  accounts: Accounts;
  users: UserCache;
  input: RoomInput;
  cache: RoomStateCache;
}

/**
 * Everything a user keeps on the server besides rooms: account data and tags, sync filters, push
 * rules, profile, presence and the user directory. `accountData` and `presence` are also the
 * sync StreamSources of the same names.
 */
export class UserData {
  readonly pushRules: PushRules;
  readonly accountData: AccountData;
  readonly filters: Filters;
  readonly presence: Presence;
  readonly profiles: Profiles;
  readonly directory: UserDirectory;

  constructor(deps: UserDataDeps) {
    const { db, pubsub, log, accounts } = deps;
    this.pushRules = new PushRules(db, pubsub, log);
    this.accountData = new AccountData(db, pubsub, log, (userId) => this.pushRules.accountDataContent(userId));
    this.filters = new Filters(db);
    const { enabled, offline_after_ms, idle_after_ms } = deps.config.presence;
    const timeouts = { offlineAfterMs: offline_after_ms, idleAfterMs: idle_after_ms };
    this.presence = new Presence(db, pubsub, log, enabled, async (userId) => !!(await accounts.getUser(userId)), timeouts);
    this.profiles = new Profiles({ db, accounts, users: deps.users, input: deps.input, cache: deps.cache, log });
    this.directory = new UserDirectory(db);
  }
}
