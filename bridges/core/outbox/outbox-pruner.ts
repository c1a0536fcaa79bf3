import type { Logger } from '../../../homeserver/runtime/logger.js';
import type { OutboxStore } from './outbox-store.js';

const BATCH = 1000;
/** At most this many batches per run, so one run never holds the database for long; the next run goes on. */
const MAX_BATCHES = 20;

/**
 * Deletes outbox rows that are done (sent or failed) and older than the retention, in bounded
 * batches. Every worker runs it on a timer: batches skip rows another worker is deleting, so
 * running it twice costs nothing.
 */
export class OutboxPruner {
  constructor(
    private readonly store: OutboxStore,
    private readonly retentionMs: number,
    private readonly log: Logger,
  ) {}

  /** Returns how many rows were deleted. */
  async prune(now = Date.now()): Promise<number> {
    let total = 0;
    for (let i = 0; i < MAX_BATCHES; i++) {
      const n = await this.store.prune(now - this.retentionMs, BATCH);
      total += n;
      if (n < BATCH) break;
    }
    if (total) this.log.debug({ bridge: this.store.bridgeId, rows: total }, 'outbox rows pruned');
    return total;
  }
}
