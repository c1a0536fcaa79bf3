import type { KeyedLock } from './ports.js';

/**
 * One promise chain per key: each caller waits for the tail it found, then becomes the tail. Chaining in call
 * order gives FIFO; keys never share a chain, so they never block each other.
 */
export class MemoryKeyedLock implements KeyedLock {
  private readonly tails = new Map<string, Promise<void>>();

  /** Keys with a holder or waiters; idle keys are dropped, so the map never outgrows the keys in use. */
  get size(): number {
    return this.tails.size;
  }

  async withLock<R>(key: string, fn: () => Promise<R>): Promise<R> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    // The tail settles when we release; it never rejects, because release happens in `finally`.
    const tail = previous.then(() => mine);
    this.tails.set(key, tail);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      // Still the tail means nobody queued behind us: the key is idle, forget it.
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
