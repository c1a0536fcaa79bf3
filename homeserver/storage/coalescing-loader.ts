/**
 * Coalesces point lookups under load: while one batch query is in flight, new keys wait and go
 * out together in the next one. At low load a lookup costs one query as before; at high load
 * hundreds of lookups share a round trip. (DataLoader batches only within one tick, which never
 * happens for lookups that arrive in separate HTTP requests.)
 */
export class CoalescingLoader<K, V> {
  private waiting = new Map<K, { resolve: (v: V) => void; reject: (e: unknown) => void }[]>();
  private inFlight = 0;

  constructor(
    private loadMany: (keys: K[]) => Promise<Map<K, V>>,
    private missing: V,
    private opts = { maxInFlight: 2, maxBatch: 1000 },
  ) {}

  load(key: K): Promise<V> {
    return new Promise((resolve, reject) => {
      const list = this.waiting.get(key);
      if (list) list.push({ resolve, reject });
      else this.waiting.set(key, [{ resolve, reject }]);
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.opts.maxInFlight && this.waiting.size) {
      const batch = new Map<K, { resolve: (v: V) => void; reject: (e: unknown) => void }[]>();
      for (const [k, v] of this.waiting) {
        if (batch.size >= this.opts.maxBatch) break;
        batch.set(k, v);
        this.waiting.delete(k);
      }
      this.inFlight++;
      this.loadMany([...batch.keys()])
        .then((found) => {
          for (const [k, waiters] of batch) for (const w of waiters) w.resolve(found.get(k) ?? this.missing);
        })
        .catch((err) => {
          for (const waiters of batch.values()) for (const w of waiters) w.reject(err);
        })
        .finally(() => {
          this.inFlight--;
          this.pump();
        });
    }
  }
}
