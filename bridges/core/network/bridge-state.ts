/**
 * Bridge states of a login, as in mautrix's bridge status API: what the user's client shows and
 * what operators count. Connection failures are states, not exceptions.
 */
export const BRIDGE_STATE_EVENTS = [
  'CONNECTING',
  'CONNECTED',
  'BACKFILLING',
  'TRANSIENT_DISCONNECT',
  'BAD_CREDENTIALS',
  'LOGGED_OUT',
  'UNKNOWN_ERROR',
] as const;
export type BridgeStateEvent = (typeof BRIDGE_STATE_EVENTS)[number];

/** States in which the pool keeps trying (with backoff) without the user doing anything. */
export const RETRYABLE_STATES: ReadonlySet<BridgeStateEvent> = new Set(['TRANSIENT_DISCONNECT', 'UNKNOWN_ERROR']);
/** States that end the session until the user logs in again. */
export const TERMINAL_STATES: ReadonlySet<BridgeStateEvent> = new Set(['BAD_CREDENTIALS', 'LOGGED_OUT']);

/** What a NetworkClient reports; the core adds the login, timestamp and persists it. */
export interface BridgeStateUpdate {
  stateEvent: BridgeStateEvent;
  /** A stable machine-readable code, e.g. `tg-auth-key-unregistered`. */
  error?: string;
  /** Human-readable, shown to the user; never contains secrets. */
  message?: string;
  /** Extra fields for the UI, e.g. `{ remote_name }`. */
  info?: Record<string, unknown>;
}

/** A persisted state, as served by `/whoami` and published to other processes. */
export interface BridgeState extends BridgeStateUpdate {
  /** Seconds since the epoch, as mautrix sends it. */
  timestamp: number;
}
