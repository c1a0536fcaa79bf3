/**
 * The client's durable position in its account's update log (Telegram's pts), kept in the login's
 * metadata. An update counts as processed once the core has applied it (LoginContext.emit's
 * onApplied) or when it was this client's own action; the position saved is the highest pts with
 * every update up to it processed. Updates of different chats finish out of order (one portal
 * queue each), and one that failed is never counted, so the position stops before it and the next
 * connect asks for it again: at-least-once, the core treating a replay as a no-op.
 *
 * A gap is not held forever: once more than MAX_AHEAD updates after it are processed, the cursor
 * moves over it (the core has logged that update's failure; keeping every later pts in memory
 * for the life of the connection would cost more than the one update).
 *
 * Saves are coalesced (one write in flight, then the newest position); a failed save is retried
 * at the next advance. After the login's abort (lease lost) nothing is saved: the new owner's
 * position must not be moved back by this worker.
 */
const MAX_AHEAD = 1_000;

export class UpdateCursor {
  private committed: number | undefined;
  private saved: number | undefined;
  /** Processed pts above a gap (an update still being applied, or failed). */
  private done = new Set<number>();
  private saving = false;

  constructor(
    start: number | undefined,
    private readonly save: (pts: number) => Promise<void>,
    private readonly signal: AbortSignal,
  ) {
    this.committed = this.saved = start;
  }

  /** Where the next getDifference starts; undefined before the first connect (getState says). */
  get position(): number | undefined {
    return this.committed;
  }

  /** Moves forward to `pts` without processing what lies between (first connect, or a log that no longer reaches back). */
  skipTo(pts: number): void {
    if (this.committed !== undefined && pts <= this.committed) return;
    this.committed = pts;
    for (const d of this.done) if (d <= pts) this.done.delete(d);
    this.advance();
  }

  processed(pts: number): void {
    if (this.committed === undefined || pts <= this.committed) return;
    this.done.add(pts);
    this.advance();
  }

  private advance(): void {
    if (this.done.size > MAX_AHEAD) this.committed = Math.min(...this.done) - 1;
    while (this.done.delete(this.committed! + 1)) this.committed!++;
    this.flush();
  }

  private flush(): void {
    const pts = this.committed;
    if (this.saving || pts === undefined || pts === this.saved || this.signal.aborted) return;
    this.saving = true;
    this.save(pts).then(
      () => {
        this.saved = pts;
        this.saving = false;
        this.flush();
      },
      () => {
        this.saving = false;
      },
    );
  }
}
