import type { Db } from '../../storage/db.js';
import type { Accounts } from '../accounts/accounts.js';
import type { EventStore } from './event-store.js';
import type { RoomInput } from './room-input.js';
import type { RoomStateCache } from './room-state-cache.js';

/** What the room services share; passed in explicitly (no global service locator). */
export interface RoomsContext {
  db: Db;
  serverName: string;
  input: RoomInput;
  store: EventStore;
  cache: RoomStateCache;
  accounts: Accounts;
}
