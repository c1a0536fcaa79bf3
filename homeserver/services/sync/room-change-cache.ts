/**
 * The last stream position at which each room changed, learnt from the commit notifications this
 * process receives (Synapse's "stream change cache"). It answers "which of these rooms have new
 * events since position p?" without a query, for any p at or after the moment it started
 * listening; older positions fall back to the database. The notifier records a notification only
 * once every position below it is accounted for (see SyncNotifier), so the answer is complete up
 * to the notifier's `eventsPosition`.
 */
export class RoomChangeCache {
  private lastChange = new Map<string, number>();
  private start = Number.MAX_SAFE_INTEGER;

  /** Positions after `start` are fully known from now on. */
  startFrom(start: number): void {
    this.start = start;
  }

  /** The first position whose changes are known (changes after it are). */
  get earliest(): number {
    return this.start;
  }

  record(rooms: string[], position: number): void {
    for (const r of rooms) if ((this.lastChange.get(r) ?? 0) < position) this.lastChange.set(r, position);
  }

  /** The last known change of a room (0 when none was heard). */
  lastChangeOf(roomId: string): number {
    return this.lastChange.get(roomId) ?? 0;
  }

  /** The rooms of `roomIds` changed after `from`, or undefined when `from` predates what is known. */
  changedSince(roomIds: string[], from: number): Set<string> | undefined {
    if (from < this.start) return undefined;
    const out = new Set<string>();
    for (const r of roomIds) if ((this.lastChange.get(r) ?? 0) > from) out.add(r);
    return out;
  }
}
