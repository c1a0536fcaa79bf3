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
 * login row.
 */
export function makeContextFor(deps: {
  portalDeps: PortalDeps;
  portals: Portals;
  directory: LoginDirectory;
  keys: KeyStores;
  client(loginId: LoginId): NetworkClient | undefined;
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
    const keys = deps.keys.forLogin(login.loginId, () => ({ token: parts.fencingToken() }));
    if (keys.cachedBytes) parts.memory.register('crypto-store-cache', () => keys.cachedBytes!());
    return {
      bridgeId: portalDeps.bridgeId,
      loginId: login.loginId,
      userMxid: login.userMxid,
      metadata: login.metadata,
      saveMetadata: (metadata) => portalDeps.userLogins.setMetadata(login.loginId, metadata),
      emit: (ev, onApplied) => portals.emit(handle, ev, onApplied),
      setState: parts.setState,
      keys,
      memory: parts.memory,
      signal: parts.signal,
    };
  };
}

/**
 * On every CONNECTED of a login (first connect, reconnect, takeover; from the pool's state
 * listener): catch up each of its portals on messages pushed while it was disconnected. Runs on
 * the portal queues, so it is ordered with live events and a second run finds nothing new.
 */
export async function catchUpLogin(portalDeps: PortalDeps, portals: Portals, handle: LoginHandle): Promise<void> {
  for (const key of await portalDeps.userPortals.portalsOf(handle.loginId)) {
    const portal = portals.portalFor(key);
    portal.queue.push({ bytes: 64, label: 'catch-up', run: () => catchUpPortal(portalDeps, portal, handle) });
  }
}
