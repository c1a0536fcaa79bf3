/**
 * Retry delays: exponential, capped, with jitter. Used for logins' reconnects (session pool) and
 * for a bridge's first calls while its homeserver is starting (until-homeserver-ready.ts).
 */
export interface BackoffOptions {
  /** Delay cap of the first retry. Default 1,000 ms. */
  initialMs: number;
  /** Upper bound of any delay. Default 5 minutes. */
  maxMs: number;
  /** Growth per failed attempt. Default 2. */
  factor: number;
  /**
   * Share of the delay that is randomised: 1 is "full jitter" (uniform in [0, cap]), 0 none.
   * Full jitter matters for logins: after a network outage thousands of logins fail at once, and
   * without it they would all retry in the same instant, again and again.
   */
  jitter: number;
}

/** The session pool's reconnect delays (the defaults above). */
export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 1_000, maxMs: 300_000, factor: 2, jitter: 1 };

/** The delay before retry number `attempt` (0-based). */
export function backoffDelay(opts: BackoffOptions, attempt: number, random: () => number = Math.random): number {
  const cap = Math.min(opts.maxMs, opts.initialMs * Math.pow(opts.factor, Math.min(attempt, 64)));
  const jitter = Math.min(1, Math.max(0, opts.jitter));
  return Math.round(cap * (1 - jitter * random()));
}
