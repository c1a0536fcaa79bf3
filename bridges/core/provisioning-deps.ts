import type { ProvisioningDeps } from '../../provisioning/deps.js';
import type { PubSub } from '../../homeserver/runtime/ports.js';
import { saveLoginSecrets } from './crypto-store/login-secrets.js';
import { LoginProcesses } from './login/login-processes.js';
import { ProcessRelay } from './login/process-relay.js';
import type { LoginDirectory } from './login-directory.js';
import type { KeyStores } from './login-wiring.js';
import type { LoginId, PortalKey } from './network/ids.js';
import type { NetworkConnector } from './network/network-connector.js';
import { ensureRoom } from './portal/room-creator.js';
import type { PortalDeps } from './portal/portal-deps.js';
import type { Portals } from './portal/portals.js';
import type { SessionPool } from './session-pool/session-pool.js';

/** The provisioning deps of a bridge, with the relay the bridge starts and stops. */
export type BridgeProvisioningDeps = ProvisioningDeps & { relay: ProcessRelay };

/** Past a step's own bound (the process's idle timeout), for the owner to send the answer back. */
const FORWARD_MARGIN_MS = 60_000;

/**
 * The provisioning API's view of one bridge: login processes whose completion stores the login,
 * seals its secrets and starts its session, reachable from every worker of the bridge through a
 * relay on the runtime's pub/sub; logout; create_dm through a portal. Login calls of a session
 * another worker runs are forwarded through the same relay, to the worker token on its lease.
 */
export function makeProvisioningDeps(deps: {
  portalDeps: PortalDeps;
  portals: Portals;
  directory: LoginDirectory;
  pool: SessionPool;
  connector: NetworkConnector;
  keys: KeyStores;
  /** This worker's address on the relay: the pool stores it on its leases, process ids carry it. */
  workerToken: string;
  /** The runtime's pub/sub: the relay's transport between this bridge's workers. */
  pubsub: PubSub;
  onError?(err: unknown, context: string): void;
  sharedSecret?: string;
  verifyAccessToken?(token: string): Promise<string | undefined>;
}): BridgeProvisioningDeps {
  const { portalDeps: pd, pool, connector } = deps;
  const processes = new LoginProcesses({
    connector,
    workerToken: deps.workerToken,
    async onComplete(userMxid, completed) {
      // Sealed before the row exists: another worker's takeover scan may lease the login as soon
      // as it does, and connecting it without its secrets would end in BAD_CREDENTIALS, a terminal
      // state. Unfenced: no session of this login runs yet (pool.add below starts it).
      await saveLoginSecrets(deps.keys.forLogin(completed.loginId), completed.secrets);
      const record = await pd.userLogins.upsert({
        loginId: completed.loginId,
        userMxid,
        remoteName: completed.remoteName,
        metadata: completed.metadata,
      });
      // Here if possible; if a scan was faster, the login runs there (pool.add asks for it back).
      await pool.add(completed.loginId);
      return record;
    },
  });
  const relay = new ProcessRelay({
    pubsub: deps.pubsub,
    bridgeId: pd.bridgeId,
    workerToken: processes.workerToken,
    // A forwarded step runs at most as long as the process may idle (it expires then).
    maxWaitMs: processes.idleTimeoutMs + FORWARD_MARGIN_MS,
    ...(deps.onError ? { onError: deps.onError } : {}),
  });
  const dmKey = (loginId: LoginId, chatId: PortalKey['chatId']): PortalKey => ({ chatId, receiver: loginId });
  return {
    bridgeId: pd.bridgeId,
    connector,
    logins: pd.userLogins,
    processes,
    relay,
    ...(deps.sharedSecret ? { sharedSecret: deps.sharedSecret } : {}),
    ...(deps.verifyAccessToken ? { verifyAccessToken: deps.verifyAccessToken } : {}),
    async logout(login, opts) {
      await pool.remove(login.loginId, { logoutRemote: opts.remote });
      await pd.userLogins.delete(login.loginId);
      await pd.userPortals.removeLogin(login.loginId);
      await deps.keys.deleteLogin(login.loginId);
    },
    client: (loginId) => pool.client(loginId),
    loginHolder: (loginId) => pool.leaseHolderToken(loginId),
    async createDm(login, target) {
      const handle = deps.directory.get(login.loginId);
      if (!handle || !target.chatId) throw new Error('The login is not connected in this worker');
      const portal = deps.portals.portalFor(dmKey(login.loginId, target.chatId));
      return portal.queue.run(async () => ({ created: await ensureRoom(pd, portal, handle), roomId: portal.roomId! }));
    },
    states: () => pool.states(),
    ghostMxid: (userId) => pd.ghosts.mxid(userId),
    async dmRoomId(login, chatId) {
      return (await pd.portals.get(dmKey(login.loginId, chatId)))?.roomId ?? undefined;
    },
    info: {
      homeserver: pd.serverName,
      bridgeBot: pd.matrix.bot.userId,
      commandPrefix: `!${pd.bridgeId}`,
    },
  };
}
