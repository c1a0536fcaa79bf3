import type { Logger } from '../../../homeserver/runtime/logger.js';
import { backoffDelay, type BackoffOptions } from '../backoff.js';
import { MatrixHttpError } from './cs-client.js';

/**
 * 100 ms doubling to 2 s. No jitter: only the few bridges of starting processes wait here, not
 * thousands of logins, so there is no herd of retries to spread out.
 */
const READY_BACKOFF: BackoffOptions = { initialMs: 100, maxMs: 2_000, factor: 2, jitter: 0 };

/**
 * Whether a failed call may succeed once the homeserver is ready for this bridge: in a cluster the
 * homeserver processes may still be starting (connection refused, a load balancer's 502/503), or may
 * not have reloaded the registration the bridge just stored (M_UNKNOWN_TOKEN for its as_token until
 * the pub/sub announcement arrives).
 */
function notReadyYet(err: unknown): boolean {
  if (err instanceof MatrixHttpError) return err.errcode === 'M_UNKNOWN_TOKEN' || err.status >= 500;
  return err instanceof TypeError && /fetch failed/i.test(err.message); // undici: refused, reset, unknown host
}

/** Runs `call` until the homeserver accepts it, with backoff (READY_BACKOFF), for at most `timeoutMs`. */
export async function untilHomeserverReady<T>(call: () => Promise<T>, log: Logger, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      const delayMs = backoffDelay(READY_BACKOFF, attempt);
      if (!notReadyYet(err) || Date.now() + delayMs > deadline) throw err;
      log.info({ err: (err as Error).message, retryInMs: delayMs }, 'homeserver not ready for the bridge yet');
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}
