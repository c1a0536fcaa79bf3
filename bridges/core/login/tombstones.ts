/** How a login process ended. */
export type EndReason = 'completed' | 'cancelled' | 'expired' | 'failed';

interface Tombstone {
  userMxid: string;
  reason: EndReason;
  at: number;
}

/** Bounds memory whatever the churn: a flood of abandoned logins cannot grow the map without limit. */
const MAX_TOMBSTONES = 10_000;

/**
 * Remembers recently ended processes for a while, so that a client polling a process that
 * expired or was cancelled is told so ("expired; start a new login") instead of a bare
 * "not found". Entries are kept in insertion order, which is also age order.
 */
export class Tombstones {
  private readonly entries = new Map<string, Tombstone>();

  constructor(private readonly ttlMs: number) {}

  add(processId: string, userMxid: string, reason: EndReason): void {
    const now = Date.now();
    this.prune(now);
    if (this.entries.size >= MAX_TOMBSTONES) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(processId, { userMxid, reason, at: now });
  }

  get(processId: string): Tombstone | undefined {
    const t = this.entries.get(processId);
    return t && Date.now() - t.at < this.ttlMs ? t : undefined;
  }

  private prune(now: number): void {
    for (const [id, t] of this.entries) {
      if (now - t.at < this.ttlMs) break;
      this.entries.delete(id);
    }
  }
}
