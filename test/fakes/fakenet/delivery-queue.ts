/**
 * The fake network's push channel: one FIFO for the whole network, drained on a later turn of the
 * event loop (setImmediate), so events reach clients asynchronously, as from a real server, and in
 * the order the network applied them (hence in order per chat).
 *
 * Recipients are chosen when the event happens (the members of the chat at that moment); a
 * connection that closed before its turn is skipped, as a dropped socket loses its pushes.
 */
export interface Deliverable<E> {
  /** False once the connection closed. */
  readonly open: boolean;
  deliver(event: E): void;
}

export class DeliveryQueue<E> {
  private queue: { targets: Deliverable<E>[]; event: E }[] = [];
  private scheduled = false;
  private waiters: (() => void)[] = [];

  push(targets: Deliverable<E>[], event: E): void {
    if (targets.length === 0) return;
    this.queue.push({ targets, event });
    this.schedule();
  }

  /** Resolves once everything queued so far (and anything it caused) has been delivered. */
  idle(): Promise<void> {
    if (this.queue.length === 0 && !this.scheduled) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private schedule() {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.drain());
  }

  private drain() {
    this.scheduled = false;
    // Events pushed by listeners during this drain go to the next turn, keeping one turn bounded.
    const batch = this.queue;
    this.queue = [];
    for (const { targets, event } of batch) {
      for (const t of targets) {
        if (!t.open) continue;
        try {
          t.deliver(event);
        } catch {
          // A listener's bug must not stop delivery to everyone else (a server would not care).
        }
      }
    }
    if (this.queue.length > 0) return this.schedule();
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
