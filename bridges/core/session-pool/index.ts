export { SessionPool, type SessionPoolOptions, type LoginContextParts, type AddOptions, type StateListener } from './session-pool.js';
export { LoginLeases, type HeldLease } from './login-lease.js';
export { bridgeStateTopic, type BridgeStateMessage } from './state-writer.js';
export { SessionMemory, PoolMetrics } from './memory-accounting.js';
export { DEFAULT_BACKOFF, backoffDelay, type BackoffOptions } from '../backoff.js';
