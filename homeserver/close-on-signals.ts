import type { Logger } from './runtime/logger.js';

/**
 * SIGTERM/SIGINT close the process's roles gracefully, then exit: 0 when everything closed, 1 when
 * a step failed (the supervisor restarts it either way; the code tells the operator which).
 */
export function closeOnSignals(running: { close(): Promise<void> }, log: Logger): void {
  const stop = (signal: string) => {
    log.info({ signal }, 'shutting down');
    running
      .close()
      .then(() => process.exit(0))
      .catch((err) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
