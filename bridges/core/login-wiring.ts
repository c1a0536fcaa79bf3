import type { LoginContextParts } from './session-pool/session-pool.js';
import { LoginDirectory, remoteUserIdOf, type LoginHandle } from './login-directory.js';
import type { LoginId } from './network/ids.js';
import type { LoginContext, LoginKeyStore } from './network/login-context.js';
import type { NetworkClient } from './network/network-client.js';
import { catchUpPortal } from './portal/backfill.js';
import type { PortalDeps } from './portal/portal-deps.js';
import type { Portals } from './portal/portals.js';
import type { UserLoginRecord } from './storage/user-logins.js';

/**
 * The crypto store as the portal engine uses it (CryptoStore satisfies it). With a fence, every
 * write checks that the login's lease still carries that token.
 */
export interface KeyStores {
  forLogin(loginId: LoginId, fence?: () => { token: number } | undefined): LoginKeyStore & { cachedBytes?(): number };
  deleteLogin(loginId: LoginId): Promise<unknown>;
}

/**
 * The session pool's `contextFor`: what a NetworkClient gets for one login. Remote events go to
 * the portal queues, keys to the crypto store under the pool's fencing token, metadata to the
 * login row. Each CONNECTED (first connect, reconnect, takeover) triggers a catch-up of the
 * login's portals, so messages pushed while it was disconnected are not lost, and wakes the
 * outbox for sends that waited for the connection.
 */
export function makeContextFor(deps: {
  portalDeps: PortalDeps;
  portals: Portals;
  directory: LoginDirectory;
  keys: KeyStores;
  client(loginId: LoginId): NetworkClient | undefined;
  onConnected(loginId: LoginId): void;
}): (login: UserLoginRecord, parts: LoginContextParts) => LoginContext {
  const { portalDeps, portals } = deps;
  return (login, parts) => {
    const handle: LoginHandle = {
      loginId: login.loginId,
      userMxid: login.userMxid,
      remoteUserId: remoteUserIdOf(login.loginId, login.metadata),
      setState: parts.setState,
      memory: parts.memory,
      signal: parts.signal,
      client: () => deps.client(login.loginId),
    };
    deps.directory.add(handle);
    const catchUp = async () => {
      for (const key of await portalDeps.userPortals.portalsOf(login.loginId)) {
        const portal = portals.portalFor(key);
        portal.queue.push({ bytes: 64, run: () => catchUpPortal(portalDeps, portal, handle) });
      }
    };
    const keys = deps.keys.forLogin(login.loginId, () => ({ token: parts.fencingToken() }));
    if (keys.cachedBytes) parts.memory.register('crypto-store-cache', () => keys.cachedBytes!());
    return {
      bridgeId: portalDeps.bridgeId,
      loginId: login.loginId,
      userMxid: login.userMxid,
      metadata: login.metadata,
      saveMetadata: (metadata) => portalDeps.userLogins.setMetadata(login.loginId, metadata),
      emit: (ev) => portals.emit(handle, ev),
      setState: (state) => {
        parts.setState(state);
        if (state.stateEvent !== 'CONNECTED' || parts.signal.aborted) return;
        deps.onConnected(login.loginId);
        catchUp().catch((err) => portalDeps.log.warn({ err, login: login.loginId }, 'catch-up failed'));
      },
      keys,
      memory: parts.memory,
      signal: parts.signal,
    };
  };
}
