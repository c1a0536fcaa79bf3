import type { BridgeStateUpdate } from './bridge-state.js';
import type { LoginId } from './ids.js';
import type { RemoteEvent } from './remote-event.js';

/**
 * A login's view of the crypto store: every credential and key of one login (Telegram auth key,
 * WhatsApp identity, pre-keys, sessions, sender keys, app-state keys), sealed at rest with a key
 * derived for this login. `set` resolves only once the value is durable in Postgres, so a client
 * may acknowledge the network after awaiting it.
 */
export interface LoginKeyStore {
  get(namespace: string, keyId: string): Promise<Uint8Array | undefined>;
  /** Several keys at once (Signal asks for batches of pre-keys / sessions). */
  getMany(namespace: string, keyIds: string[]): Promise<Map<string, Uint8Array>>;
  set(namespace: string, keyId: string, value: Uint8Array): Promise<void>;
  /** Several writes in one transaction (a Signal session update touches several keys). */
  setMany(entries: { namespace: string; keyId: string; value: Uint8Array | null }[]): Promise<void>;
  delete(namespace: string, keyId: string): Promise<void>;
  /** Key ids in a namespace (e.g. to count remaining pre-keys). */
  list(namespace: string): Promise<string[]>;
}

/**
 * Memory accounting for operators: every bounded cache or buffer that belongs to a session
 * registers a function returning its current size in bytes (an estimate is fine, but it must
 * move with the contents). The pool sums them per session for the
 * `bridge_session_accounted_bytes` histogram.
 */
export interface MemoryMeter {
  /** Returns the unregister function. */
  register(name: string, bytes: () => number): () => void;
}

/** Everything the core gives a NetworkClient for one login. */
export interface LoginContext {
  readonly bridgeId: string;
  readonly loginId: LoginId;
  /** The Matrix user who owns the login. */
  readonly userMxid: string;
  /** Connector-owned metadata stored with the login (see CompletedLogin.metadata). */
  readonly metadata: Record<string, unknown>;
  /** Persists new metadata, replacing it (e.g. Telegram update state pts/qts/date/seq). */
  saveMetadata(metadata: Record<string, unknown>): Promise<void>;
  /**
   * Queues a remote event on its portal. Never throws; applying it happens asynchronously, in order
   * per portal. `onApplied` is called once the core is done with the event: true when applied (or
   * found to be a no-op replay), false when applying it failed. A connector advances its durable
   * position in the network's update log (Telegram pts) only past events applied (see
   * bridges/README.md, "Recovering what happened offline"). Not called for a typing event the
   * portal's full queue dropped.
   */
  emit(event: RemoteEvent, onApplied?: (applied: boolean) => void): void;
  /** Reports the login's bridge state; the core persists and publishes it. */
  setState(state: BridgeStateUpdate): void;
  keys: LoginKeyStore;
  memory: MemoryMeter;
  /** Aborted when the login's lease is lost or the pool stops: stop all work at once. */
  signal: AbortSignal;
}
