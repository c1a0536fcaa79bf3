import { MatrixError } from '../../matrix/errors.js';
import { parseUserId } from '../../matrix/ids.js';
import type { Logger } from '../../runtime/logger.js';
import type { Db } from '../../storage/db.js';
import type { Accounts } from '../accounts/accounts.js';
import type { UserCache } from '../accounts/user-cache.js';
import type { RoomInput } from '../rooms/room-input.js';
import type { RoomStateCache } from '../rooms/room-state-cache.js';
import type { AppserviceQueries } from '../appservices/queries.js';

export type ProfileField = 'displayname' | 'avatar_url';
export const PROFILE_FIELDS: readonly ProfileField[] = ['displayname', 'avatar_url'];

export interface Profile {
  displayname?: string;
  avatar_url?: string;
}

/** Synapse's limits. */
export const MAX_DISPLAYNAME_LENGTH = 256;
export const MAX_AVATAR_URL_LENGTH = 1000;

/** Member event keys that describe one join only and must not be carried into a profile update. */
const ONE_OFF_MEMBER_KEYS = ['reason', 'join_authorised_via_users_server', 'third_party_invite'];

export interface ProfileDeps {
  db: Db;
  accounts: Accounts;
  users: UserCache;
  input: RoomInput;
  cache: RoomStateCache;
  log: Logger;
}

/**
 * Display names and avatars (spec: "Profiles"). A change is stored on the account and then sent
 * into every room the user has joined as a new m.room.member join event carrying the new profile,
 * as Synapse does; a room that refuses the update does not fail the request.
 */
export class Profiles {
  /** Set by the composition root: asks the appservice holding an unknown user's namespace (it may create the user meanwhile). */
  appserviceQueries?: AppserviceQueries;

  constructor(private deps: ProfileDeps) {}

  /** `GET /profile/{userId}`: 404 for users this server does not know. */
  async get(userId: string): Promise<Profile> {
    parseUserId(userId);
    const lookup = () => this.deps.accounts.getUser(userId);
    const user = await (this.appserviceQueries ? this.appserviceQueries.user(userId, lookup) : lookup());
    if (!user) throw MatrixError.notFound('Profile was not found');
    const out: Profile = {};
    if (user.displayname) out.displayname = user.displayname;
    if (user.avatar_url) out.avatar_url = user.avatar_url;
    return out;
  }

  /** Sets one field of your own profile (null or '' clears it) and updates your joined rooms. */
  async set(requesterId: string, userId: string, field: ProfileField, raw: string | null): Promise<void> {
    if (userId !== requesterId) throw MatrixError.forbidden("Cannot set another user's profile");
    const value = raw === '' ? null : raw;
    if (field === 'displayname' && value !== null && [...value].length > MAX_DISPLAYNAME_LENGTH)
      throw MatrixError.invalidParam(`displayname is longer than ${MAX_DISPLAYNAME_LENGTH} characters`);
    if (field === 'avatar_url' && value !== null) {
      if (value.length > MAX_AVATAR_URL_LENGTH)
        throw MatrixError.invalidParam(`avatar_url is longer than ${MAX_AVATAR_URL_LENGTH} characters`);
      if (!/^mxc:\/\/[^/]+\/[^/]+$/.test(value)) throw MatrixError.invalidParam('avatar_url must be an mxc:// URI');
    }
    const user = await this.deps.accounts.getUser(userId);
    if (!user) throw MatrixError.notFound('Profile was not found');
    await this.deps.accounts.setProfile(userId, field, value);
    await this.deps.users.changed(userId);
    await this.propagate(userId, field, value);
  }

  /** One new member event per joined room whose member event does not already say `value`. */
  private async propagate(userId: string, field: ProfileField, value: string | null): Promise<void> {
    const { rows } = await this.deps.db.query<{ room_id: string }>(
      "SELECT room_id FROM hs_memberships WHERE user_id = $1 AND membership = 'join'",
      [userId],
    );
    const results = await Promise.allSettled(
      rows.map(async ({ room_id: roomId }) => {
        const room = await this.deps.cache.get(roomId);
        const current = room?.get('m.room.member', userId);
        if (!current || current.content.membership !== 'join') return;
        if ((current.content[field] ?? null) === value) return;
        const content: Record<string, unknown> = { ...current.content, membership: 'join' };
        for (const k of ONE_OFF_MEMBER_KEYS) delete content[k];
        if (value === null) delete content[field];
        else content[field] = value;
        await this.deps.input.submit(roomId, [{ type: 'm.room.member', state_key: userId, sender: userId, content }]);
      }),
    );
    results.forEach((r, i) => {
      if (r.status === 'rejected') this.deps.log.warn({ err: r.reason, roomId: rows[i]!.room_id }, 'profile update not sent to room');
    });
  }
}
