/**
 * One timer for many deadlines: a binary min-heap of (time, key) with a single `setTimeout`
 * armed for the earliest entry. The session pool uses it for connect jitter and reconnect
 * backoff, so 5,000 idle logins cost 5,000 small heap entries at most, never 5,000 Node timers
 * (each a few hundred bytes plus a slot in libuv's timer list).
 *
 * A key has at most one deadline: scheduling it again replaces the old one. Replaced and
 * cancelled entries stay in the heap until they reach the top (lazy deletion), which keeps
 * cancel O(1); the `due` map says which entry is current.
 */
export class Scheduler<K> {
  private heap: { at: number; key: K }[] = [];
  private readonly due = new Map<K, number>();
  private timer: NodeJS.Timeout | undefined;
  private armedAt = Infinity;
  private stopped = false;

  constructor(
    private readonly fire: (key: K) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** Runs `fire(key)` at `at` (ms since the epoch), replacing any earlier schedule of the key. */
  schedule(key: K, at: number): void {
    if (this.stopped) return;
    this.due.set(key, at);
    this.push({ at, key });
    if (at < this.armedAt) this.arm(at);
  }

  cancel(key: K): void {
    this.due.delete(key);
  }

  has(key: K): boolean {
    return this.due.has(key);
  }

  get size(): number {
    return this.due.size;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.heap = [];
    this.due.clear();
  }

  private arm(at: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.armedAt = at;
    // unref: pending retries must not keep a process alive that is otherwise shutting down.
    this.timer = setTimeout(() => this.run(), Math.max(0, at - this.now())).unref();
  }

  private run(): void {
    this.timer = undefined;
    this.armedAt = Infinity;
    const now = this.now();
    while (this.heap.length > 0 && this.heap[0]!.at <= now) {
      const { at, key } = this.pop();
      if (this.due.get(key) !== at) continue; // replaced or cancelled
      this.due.delete(key);
      this.fire(key);
    }
    // Skip stale tops so the timer is armed for a live deadline only.
    while (this.heap.length > 0 && this.due.get(this.heap[0]!.key) !== this.heap[0]!.at) this.pop();
    if (this.heap.length > 0 && !this.stopped) this.arm(this.heap[0]!.at);
  }

  private push(e: { at: number; key: K }): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]!.at <= e.at) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = e;
  }

  private pop(): { at: number; key: K } {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= h.length) break;
        const c = l + 1 < h.length && h[l + 1]!.at < h[l]!.at ? l + 1 : l;
        if (h[c]!.at >= last.at) break;
        h[i] = h[c]!;
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
}
