/**
 * Bounded concurrency for connects: at most `limit` tasks run at once, the rest wait in FIFO
 * order. Thousands of logins connecting at once would storm the network (and be rate-limited
 * or flagged by it) and the database; the pool feeds this gate after each login's jitter delay.
 *
 * The waiting list is an array with a moving head (amortised O(1) shift) rather than promises:
 * a queued login costs one array slot, not a pending promise and closure.
 */
export class ConnectGate<T> {
  private queue: T[] = [];
  private head = 0;
  private running = 0;

  constructor(
    private readonly limit: number,
    private readonly run: (item: T) => Promise<void>,
  ) {}

  push(item: T): void {
    this.queue.push(item);
    this.pump();
  }

  get active(): number {
    return this.running;
  }

  get waiting(): number {
    return this.queue.length - this.head;
  }

  clear(): void {
    this.queue = [];
    this.head = 0;
  }

  private pump(): void {
    while (this.running < this.limit && this.head < this.queue.length) {
      const item = this.queue[this.head++]!;
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      this.running++;
      void this.run(item)
        .catch(() => {})
        .finally(() => {
          this.running--;
          this.pump();
        });
    }
  }
}
