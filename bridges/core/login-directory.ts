import type { BridgeStateUpdate } from './network/bridge-state.js';
import type { LoginId, RemoteUserId } from './network/ids.js';
import type { MemoryMeter } from './network/login-context.js';
import type { NetworkClient } from './network/network-client.js';

/** What the portal engine knows about a login running in this worker. */
export interface LoginHandle {
  loginId: LoginId;
  userMxid: string;
  /** The login's own remote user id: `metadata.remoteUserId` when the connector stores it, else the login id. */
  remoteUserId: RemoteUserId;
  setState(update: BridgeStateUpdate): void;
  memory: MemoryMeter;
  signal: AbortSignal;
  /** The live client (from the session pool), undefined while it is being built or after it stopped. */
  client(): NetworkClient | undefined;
}

/**
 * The logins whose lease this worker holds, filled by the session pool's contextFor and emptied
 * when a login's signal aborts (lease lost, removed, pool stopped). The outbox claims work only
 * for these logins, so a send runs where the login's session is.
 */
export class LoginDirectory {
  private handles = new Map<LoginId, LoginHandle>();
  private caughtUp = new Set<LoginId>();
  private listeners = new Set<(loginId: LoginId) => void>();

  add(handle: LoginHandle): void {
    this.handles.set(handle.loginId, handle);
    this.caughtUp.delete(handle.loginId);
    handle.signal.addEventListener('abort', () => {
      if (this.handles.get(handle.loginId) !== handle) return;
      this.handles.delete(handle.loginId);
      this.caughtUp.delete(handle.loginId);
    });
    for (const fn of this.listeners) fn(handle.loginId);
  }

  get(loginId: LoginId): LoginHandle | undefined {
    const h = this.handles.get(loginId);
    return h && !h.signal.aborted ? h : undefined;
  }

  held(): LoginId[] {
    return [...this.handles.keys()];
  }

  /**
   * Logins whose catch-up has been queued since their last connect. The outbox sends only for
   * these: catch-up stops at the newest message it already knows, so a Matrix message sent to the
   * network before it ran would hide the messages missed while the login was away.
   */
  sendable(): LoginId[] {
    return this.held().filter((id) => this.caughtUp.has(id));
  }

  /** Set once catch-up is queued after a CONNECTED; cleared by any other state. */
  setCaughtUp(loginId: LoginId, caughtUp: boolean): void {
    if (caughtUp && this.handles.has(loginId)) this.caughtUp.add(loginId);
    else this.caughtUp.delete(loginId);
  }

  /** Called when a login starts running here (e.g. to look for outbox work left for it). */
  onAdded(fn: (loginId: LoginId) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
}

export function remoteUserIdOf(loginId: LoginId, metadata: Record<string, unknown>): RemoteUserId {
  return (typeof metadata.remoteUserId === 'string' ? metadata.remoteUserId : loginId) as string as RemoteUserId;
}
