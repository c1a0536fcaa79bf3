import type { BridgeState, BridgeStateUpdate } from '../network/bridge-state.js';
import type { LoginContext } from '../network/login-context.js';
import type { NetworkClient } from '../network/network-client.js';
import type { UserLoginRecord } from '../storage/user-logins.js';
import { SessionMemory } from './memory-accounting.js';

/**
 * Where a session is in its connect cycle:
 * - `pending`: waiting for its jitter or backoff delay (in the pool's scheduler) or for a slot
 *   of the connect gate;
 * - `connecting`: connect() is running;
 * - `running`: connect() returned; the client reports further states itself;
 * - `closed`: the lease is gone or being given up; nothing may start for this object again
 *   (a later run of the same login is a new Session with a new fencing token).
 */
export type SessionPhase = 'pending' | 'connecting' | 'running' | 'closed';

/**
 * One login held by this worker under one lease acquisition. Kept small on purpose (5,000 of
 * them idle): plain fields, no timers, no promises; the AbortController is the biggest part.
 */
export class Session {
  client: NetworkClient | undefined;
  context: LoginContext | undefined;
  readonly abort = new AbortController();
  readonly memory = new SessionMemory();
  phase: SessionPhase = 'pending';
  /** The newest state, as reported (what states() shows and what was last queued for writing). */
  state: BridgeState;
  /** Failed attempts in a row, for the backoff. */
  attempt = 0;
  /** When the last CONNECTED was reported (ms), to forgive old failures after a stable period. */
  connectedAt = 0;
  /** False once the lease is released or possibly lost: from then on nothing is written for the login. */
  leaseHeld = true;
  /** Whether connect() has run before (a retry disconnects the client first). */
  connectedOnce = false;
  /**
   * Monotonic time (performance.now()) after which this worker must assume the lease lost. Set
   * from when the renewal that extended it was *sent*, minus a safety margin, so it always comes
   * before Postgres lets another worker take the lease.
   */
  leaseDeadline: number;

  constructor(
    public login: UserLoginRecord,
    readonly token: number,
    leaseDeadline: number,
  ) {
    this.state = login.state;
    this.leaseDeadline = leaseDeadline;
  }

  /** A method, not a field read, so TypeScript does not narrow it across awaits. */
  get closed(): boolean {
    return this.phase === 'closed';
  }

  fencingToken(): number {
    return this.token;
  }

  get loginId() {
    return this.login.loginId;
  }

  /** Whether an update says nothing new (the pool then neither writes nor publishes it). */
  sameState(u: BridgeStateUpdate): boolean {
    const s = this.state;
    return (
      s.stateEvent === u.stateEvent &&
      s.error === u.error &&
      s.message === u.message &&
      JSON.stringify(s.info ?? null) === JSON.stringify(u.info ?? null)
    );
  }
}
