import type { LoginId, PortalKey } from '../network/ids.js';
import type { PortalRecord } from '../storage/portals.js';
import { SerialQueue, type QueuedTally } from './serial-queue.js';

/**
 * One remote chat and its Matrix room. All work on the portal (remote events, outbox sends,
 * receipts) runs on its serial queue, so it is applied in order and never concurrently. The
 * record is loaded by the queue's first task (see Portals.portalFor), then updated in place by
 * the handlers on the queue.
 */
export class Portal {
  readonly queue: SerialQueue;
  /** Matrix users known joined to the room (saves a join call per message). */
  readonly joined = new Set<string>();
  /** Unregister functions of the MemoryMeters this portal reports to, by login. */
  readonly meters = new Map<LoginId, () => void>();
  private loaded?: PortalRecord;

  constructor(
    readonly key: PortalKey,
    maxQueue: number,
    onError: (err: unknown) => void,
    tally?: QueuedTally,
  ) {
    this.queue = new SerialQueue(maxQueue, onError, tally);
  }

  get record(): PortalRecord {
    if (!this.loaded) throw new Error('portal record used before it was loaded');
    return this.loaded;
  }

  set record(r: PortalRecord) {
    this.loaded = r;
  }

  get roomId(): string | null {
    return this.loaded?.roomId ?? null;
  }

  /** Bytes held for this portal: its waiting tasks and the joined-member cache. */
  bytes(): number {
    let members = 0;
    for (const m of this.joined) members += 2 * m.length + 48;
    return this.queue.bytes() + members + 256;
  }
}
