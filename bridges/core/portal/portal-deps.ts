import { createHash } from 'node:crypto';
import type { Logger } from '../../../homeserver/runtime/logger.js';
import type { LoginDirectory, LoginHandle } from '../login-directory.js';
import type { Ghosts } from '../matrix/ghosts.js';
import type { MatrixSide } from '../matrix/matrix-side.js';
import type { PortalKey } from '../network/ids.js';
import type { MessageStore } from '../storage/messages.js';
import type { PortalStore } from '../storage/portals.js';
import type { ReactionStore } from '../storage/reactions.js';
import type { UserPortalStore } from '../storage/user-portals.js';
import type { UserLoginStore } from '../storage/user-logins.js';
import { parseGhostMxid } from '../ids.js';
import type { RemoteUserId } from '../network/ids.js';

/** Everything the portal handlers use; built once by bridge.ts. */
export interface PortalDeps {
  bridgeId: string;
  serverName: string;
  networkId: string;
  networkName: string;
  portals: PortalStore;
  messages: MessageStore;
  reactions: ReactionStore;
  userPortals: UserPortalStore;
  userLogins: UserLoginStore;
  matrix: MatrixSide;
  ghosts: Ghosts;
  logins: LoginDirectory;
  /** Messages fetched when a portal is created (0: no backfill). */
  backfillLimit: number;
  log: Logger;
}

/**
 * A transaction id derived from what is being sent: a retry after a crash (sent, but the mapping
 * not yet stored) reuses it, and the homeserver answers with the first event instead of a copy.
 */
export function txnIdFor(...parts: (string | number | undefined)[]): string {
  return `br.${createHash('sha256')
    .update(parts.map((p) => String(p ?? '')).join('\u0000'))
    .digest('base64url')
    .slice(0, 32)}`;
}

/** Remote mention -> Matrix user: the login's own account is its Matrix owner, anyone else a ghost. */
export function mentionResolver(deps: PortalDeps, login: LoginHandle | undefined) {
  return (userId: RemoteUserId) => ({
    mxid: login && userId === login.remoteUserId ? login.userMxid : deps.ghosts.mxid(userId),
    name: userId,
  });
}

/** Matrix pill -> remote user: ghosts decode their id; the login's owner is the login's account. */
export function pillResolver(deps: PortalDeps, login: LoginHandle) {
  return (mxid: string): RemoteUserId | undefined =>
    mxid === login.userMxid ? login.remoteUserId : parseGhostMxid(deps.bridgeId, deps.serverName, mxid);
}

export function keyLabel(key: PortalKey): string {
  return key.receiver ? `${key.chatId}/${key.receiver}` : key.chatId;
}
