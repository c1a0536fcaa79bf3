/**
 * The last stream position at which each room changed, learnt from the commit notifications this
 * process receives (Synapse's "stream change cache"). It answers "which of these rooms have new
 * events since position p?" without a query, for any p at or after the moment it started
 * listening; older positions fall back to the database.
 */
export class RoomChangeCache {
  private lastChange = new Map<string, number>();
  private earliest = Number.MAX_SAFE_INTEGER;

  /** Positions after `start` are fully known from now on. */
  startFrom(start: number): void {
    this.earliest = start;
  }

  record(rooms: string[], position: number): void {
    for (const r of rooms) if ((this.lastChange.get(r) ?? 0) < position) this.lastChange.set(r, position);
  }

  /** The rooms of `roomIds` changed after `from`, or undefined when `from` predates what is known. */
  changedSince(roomIds: string[], from: number): Set<string> | undefined {
    if (from < this.earliest) return undefined;
    const out = new Set<string>();
    for (const r of roomIds) if ((this.lastChange.get(r) ?? 0) > from) out.add(r);
    return out;
  }
}
