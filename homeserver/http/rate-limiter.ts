import { MatrixError } from '../matrix/errors.js';

export interface RateLimitRule {
  per_second: number;
  burst: number;
}

/**
 * Token buckets per (action, key). Per process, like Synapse's per-worker limiter: a client behind
 * a load balancer may get a little more than one process's budget, which is fine for abuse control.
 */
export class RateLimiter {
  private buckets = new Map<string, { tokens: number; updated: number }>();

  constructor(private rules: Record<string, RateLimitRule>) {}

  /** Takes one token or throws M_LIMIT_EXCEEDED with the wait until the next token. */
  take(action: string, key: string, now = Date.now()): void {
    const rule = this.rules[action];
    if (!rule) return;
    const id = `${action}\u0000${key}`;
    const bucket = this.buckets.get(id) ?? { tokens: rule.burst, updated: now };
    bucket.tokens = Math.min(rule.burst, bucket.tokens + ((now - bucket.updated) / 1000) * rule.per_second);
    bucket.updated = now;
    if (bucket.tokens < 1) {
      this.buckets.set(id, bucket);
      throw MatrixError.limitExceeded(Math.ceil(((1 - bucket.tokens) / rule.per_second) * 1000));
    }
    bucket.tokens -= 1;
    this.buckets.set(id, bucket);
    if (this.buckets.size > 100_000) this.sweep(now);
  }

  /** Drops full buckets: they carry no information. */
  private sweep(now: number): void {
    for (const [id, b] of this.buckets) {
      const rule = this.rules[id.split('\u0000')[0]!]!;
      if (b.tokens + ((now - b.updated) / 1000) * rule.per_second >= rule.burst) this.buckets.delete(id);
    }
  }
}
