/**
 * The badge of a user's pushes (`counts.unread`, Notifications.unreadRooms), computed once per
 * delivery pass and shared by every push of that pass: each event pushed and each of the user's
 * pushers (phone, tablet...). Counting walks every joined room and runs the push rules over the
 * unread events, so doing it per event and per pusher multiplied that work for no new answer.
 *
 * A count stands for the user's unread rooms once every event up to stream position `head` is in
 * (a pass pushes events up to the head it read, so each of them is counted), and holds until
 * either moves: a later head (new events, redactions, memberships) asks for a new count, and so
 * does the user's read receipt (`invalidate`), which changes the answer without moving the head.
 * Like Synapse's, the badge is the count at the time of the push, not as of the pushed event. A
 * push rule change alone (account data, no event) is seen from the next event on.
 */
export class BadgeCounts {
  private counts = new Map<string, { head: number; unread: Promise<number> }>();

  constructor(private readonly count: (userId: string) => Promise<number>) {}

  /** The user's badge for a pass that read `head` (a count made for a later head is as good). */
  of(userId: string, head: number): Promise<number> {
    const known = this.counts.get(userId);
    if (known && known.head >= head) return known.unread;
    const entry = { head, unread: this.count(userId) };
    this.counts.set(userId, entry);
    // A failed count is not kept: the retried push asks again.
    entry.unread.catch(() => {
      if (this.counts.get(userId) === entry) this.counts.delete(userId);
    });
    return entry.unread;
  }

  /** The user's read receipts moved: a count made before is stale, even in flight. */
  invalidate(userId: string): void {
    this.counts.delete(userId);
  }

  clear(): void {
    this.counts.clear();
  }
}
