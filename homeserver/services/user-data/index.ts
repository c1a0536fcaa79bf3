/**
 * The user-data service's surface for sync, receipts and notification counts. Sync is wired
 * through `userDataStreams` (its StreamSources) and `userDataHooks` (the optional Services hooks
 * for stored filters, set_presence and server-written room account data such as m.fully_read).
 */
import type { StreamSource } from '../sync/stream-source.js';
import type { AccountDataSection } from './account-data.js';
import type { Filter } from './filters.js';
import type { PresenceSection, PresenceState } from './presence.js';
import type { UserData } from './user-data.js';

export { UserData, type UserDataDeps } from './user-data.js';
export { AccountData, type AccountDataEvent, type AccountDataSection } from './account-data.js';
export { Presence, type PresenceContent, type PresenceEvent, type PresenceSection, type PresenceState } from './presence.js';
export type { Filter } from './filters.js';
export { ACCOUNT_DATA_STREAM, PRESENCE_STREAM } from './streams.js';
export { evaluatePushRules, type PushContext, type PushEvaluation, type PushEvent } from './push/evaluator.js';
export { defaultRuleset } from './push/default-rules.js';
export type { PushAction, PushCondition, PushRule, PushRuleset, RuleKind } from './push/types.js';

const PRESENCE_STATES: readonly string[] = ['online', 'unavailable', 'offline'];

/** The `account_data` StreamSource (section `{ global, rooms }`). */
export function accountDataSource(userData: UserData): StreamSource<AccountDataSection> {
  return userData.accountData;
}

/** The `presence` StreamSource (section `{ events }`). */
export function presenceSource(userData: UserData): StreamSource<PresenceSection> {
  return userData.presence;
}

/** Both streams, keyed by their sync token names, for `Services.syncStreams`. */
export function userDataStreams(userData: UserData): {
  account_data: StreamSource<AccountDataSection>;
  presence: StreamSource<PresenceSection>;
} {
  return { account_data: userData.accountData, presence: userData.presence };
}

/** A stored filter of the user, or undefined (unknown id or another user's filter). */
export function getFilter(userData: UserData, userId: string, filterId: string): Promise<Filter | undefined> {
  return userData.filters.get(userId, filterId);
}

/** Sync's `set_presence` (`offline` leaves presence alone); a no-op when presence is disabled. */
export function setPresenceFromSync(userData: UserData, userId: string, state: PresenceState, syncTimeoutMs?: number): Promise<void> {
  return userData.presence.setFromSync(userId, state, syncTimeoutMs);
}

/** The Services hooks sync and read markers call. */
export function userDataHooks(userData: UserData) {
  return {
    syncFilterLookup: (userId: string, filterId: string): Promise<unknown | undefined> => getFilter(userData, userId, filterId),
    setPresenceFromSync: async (userId: string, presence: string, syncTimeoutMs?: number): Promise<void> => {
      if (PRESENCE_STATES.includes(presence)) await setPresenceFromSync(userData, userId, presence as PresenceState, syncTimeoutMs);
    },
    setRoomAccountData: async (userId: string, roomId: string, type: string, content: Record<string, unknown>): Promise<void> => {
      await userData.accountData.set(userId, roomId, type, content);
    },
  };
}
