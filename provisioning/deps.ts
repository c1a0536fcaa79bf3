import type { LoginProcesses, LoginRelay } from '../bridges/core/login/index.js';
import type { BridgeState } from '../bridges/core/network/bridge-state.js';
import type { ResolvedIdentifier } from '../bridges/core/network/chat-info.js';
import type { LoginId, RemoteChatId, RemoteUserId } from '../bridges/core/network/ids.js';
import type { NetworkClient } from '../bridges/core/network/network-client.js';
import type { NetworkConnector } from '../bridges/core/network/network-connector.js';
import type { UserLoginRecord, UserLoginStore } from '../bridges/core/storage/user-logins.js';

/** Static facts about the bridge shown by `/whoami`. */
export interface ProvisioningBridgeInfo {
  /** The homeserver's server name. */
  homeserver: string;
  /** Matrix user id of the bridge bot. */
  bridgeBot: string;
  commandPrefix: string;
  networkUrl?: string;
  /** mxc:// URI of the network's icon. */
  networkIcon?: string;
  /** Defaults to `io.causeway.<networkId>`. */
  beeperBridgeType?: string;
}

/**
 * Everything the provisioning plugin needs from one bridge, injected by the composition root.
 * The plugin holds no state of its own besides what `processes` keeps.
 */
export interface ProvisioningDeps {
  bridgeId: string;
  connector: NetworkConnector;
  /** The bridge's stored logins (`logins.bridgeId` must equal `bridgeId`). */
  logins: UserLoginStore;
  /** The running login processes; its `onComplete` persists logins and starts their sessions. */
  processes: LoginProcesses;
  /**
   * Reaches the other workers of the bridge (ProcessRelay over the runtime's pub/sub): steps and
   * cancels of a process another worker holds, and login calls (contacts, resolve_identifier,
   * create_dm) of a login whose session another worker runs, are forwarded there; this worker
   * answers theirs while the plugin is mounted. Absent: every process and session is taken to be
   * local.
   */
  relay?: LoginRelay;
  /**
   * The relay worker token of the live worker holding the login's session lease, this one
   * included (SessionPool.leaseHolderToken), or undefined when none does. Absent: login calls
   * are never forwarded.
   */
  loginHolder?(loginId: LoginId): Promise<string | undefined>;
  /**
   * The admin secret: `Authorization: Bearer <secret>` plus `?user_id=` acts for any user.
   * Shorter than 16 characters (or absent) disables secret auth, as mautrix does.
   */
  sharedSecret?: string;
  /**
   * Resolves a user's Matrix access token to their user id (e.g. through the homeserver's
   * `/account/whoami` or its services), or undefined when the token is invalid. Absent: only the
   * shared secret is accepted. Caching, if any, belongs here (a revoked token must stop working).
   */
  verifyAccessToken?(token: string): Promise<string | undefined>;
  /** Who may use the bridge at all (default: every authenticated user). Refusal is 403 M_FORBIDDEN. */
  isAllowed?(userMxid: string): boolean | Promise<boolean>;
  /** Refuses new login processes once a user has this many logins (FI.MAU.BRIDGE.TOO_MANY_LOGINS). */
  maxLoginsPerUser?: number;
  /**
   * Ends a login: stop its session (SessionPool.remove with `logoutRemote: remote`), delete the
   * stored login and its sealed keys. The plugin has already checked that the login is the user's.
   */
  logout(login: UserLoginRecord, opts: { remote: boolean }): Promise<void>;
  /** The live client of a login running in this process, if any (SessionPool.client). */
  client(loginId: LoginId): NetworkClient | undefined;
  /** Creates (or finds) the DM portal with a resolved remote user and invites the login's owner. */
  createDm(login: UserLoginRecord, target: ResolvedIdentifier): Promise<{ roomId: string; created: boolean }>;
  /**
   * Live bridge states of the logins this process runs (SessionPool.states()); whoami prefers them
   * to the stored state when newer.
   */
  states?(): ReadonlyMap<LoginId, BridgeState>;
  /** The Matrix id of the ghost of a remote user (shown as `mxid` in contacts and resolve results). */
  ghostMxid?(userId: RemoteUserId): string;
  /** The room of an existing portal for a chat of this login (shown as `dm_room_mxid`). */
  dmRoomId?(login: UserLoginRecord, chatId: RemoteChatId): Promise<string | undefined>;
  info: ProvisioningBridgeInfo;
}
