import type { Logger } from '../../../homeserver/runtime/logger.js';
import { MatrixHttpError } from './cs-client.js';

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

/** Runs `call` until the homeserver accepts it, with backoff (100 ms doubling to 2 s), for at most `timeoutMs`. */
export async function untilHomeserverReady<T>(call: () => Promise<T>, log: Logger, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let delayMs = 100; ; delayMs = Math.min(delayMs * 2, 2_000)) {
    try {
      return await call();
    } catch (err) {
      if (!notReadyYet(err) || Date.now() + delayMs > deadline) throw err;
      log.info({ err: (err as Error).message, retryInMs: delayMs }, 'homeserver not ready for the bridge yet');
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}
