/**
 * A bounded FIFO that runs one task at a time: the order guarantee of a portal (remote and
 * Matrix events of one chat are applied in the order they were queued).
 *
 *   push(task) ──> [ t1 t2 t3 ... ] ──> run t1, await, run t2, ...
 *                      │ over `maxItems`: the oldest droppable task (typing) goes first;
 *                      │ if none is droppable the task is still taken (a message is never
 *                      │ lost) and `overflows` counts it for the operator.
 *
 * `bytes()` is the estimated size of what waits, for the login's MemoryMeter.
 */
export interface QueueTask {
  run(): Promise<void>;
  /** Estimated bytes held while waiting. */
  bytes: number;
  /** Ephemeral work (typing) that may be dropped when the queue is full. */
  droppable?: boolean;
  /** What the task does, for diagnostics (`running`). */
  label?: string;
}

/**
 * Tasks waiting across many queues (a worker's portals), kept up to date by the queues as they
 * change, so a metrics scrape reads one number instead of walking 20,000 portals.
 */
export class QueuedTally {
  count = 0;
}

export class SerialQueue {
  private items: QueueTask[] = [];
  private held = 0;
  private running = false;
  private idleWaiters: (() => void)[] = [];
  overflows = 0;
  dropped = 0;
  /** The label and start time of the task running now (operators: a portal stuck on one call). */
  runningTask?: { label: string; since: number };

  constructor(
    private maxItems: number,
    private onError: (err: unknown) => void,
    private tally = new QueuedTally(),
  ) {}

  push(task: QueueTask): void {
    if (this.items.length >= this.maxItems) {
      const i = this.items.findIndex((t) => t.droppable);
      if (i >= 0) {
        this.held -= this.items[i]!.bytes;
        this.items.splice(i, 1);
        this.tally.count--;
        this.dropped++;
      } else if (task.droppable) {
        this.dropped++;
        return;
      } else this.overflows++;
    }
    this.items.push(task);
    this.tally.count++;
    this.held += task.bytes;
    if (!this.running) void this.drain();
  }

  /** Runs fn on the queue and resolves with its result (for callers that need the outcome). */
  run<R>(fn: () => Promise<R>, bytes = 64, label?: string): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.push({ bytes, label, run: () => fn().then(resolve, (err) => (reject(err), undefined)) });
    });
  }

  /** Whether a task waits or runs. */
  get busy(): boolean {
    return this.running || this.items.length > 0;
  }

  get length(): number {
    return this.items.length;
  }

  bytes(): number {
    return this.held;
  }

  /** Resolves once nothing waits or runs. */
  idle(): Promise<void> {
    if (!this.running && !this.items.length) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async drain(): Promise<void> {
    this.running = true;
    while (this.items.length) {
      const task = this.items.shift()!;
      this.tally.count--;
      this.held -= task.bytes;
      this.runningTask = { label: task.label ?? 'task', since: Date.now() };
      try {
        await task.run();
      } catch (err) {
        this.onError(err);
      }
      this.runningTask = undefined;
    }
    this.running = false;
    for (const w of this.idleWaiters.splice(0)) w();
  }
}
