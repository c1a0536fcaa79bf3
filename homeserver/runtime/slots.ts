/** A counting semaphore: at most `size` holders at once, the others wait in FIFO order. */
export class Slots {
  private free: number;
  private waiting: (() => void)[] = [];

  constructor(size: number) {
    this.free = size;
  }

  async run<R>(fn: () => Promise<R>): Promise<R> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    }
  }
}
