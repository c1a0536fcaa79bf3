import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../../homeserver/http/rate-limiter.js';
import { MatrixError } from '../../../homeserver/matrix/errors.js';

describe('RateLimiter', () => {
  it('allows a burst, then refuses with the wait until the next token', () => {
    const limiter = new RateLimiter({ login: { per_second: 2, burst: 3 } });
    for (let i = 0; i < 3; i++) limiter.take('login', 'ip', 1000);
    try {
      limiter.take('login', 'ip', 1000);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(MatrixError);
      expect((err as MatrixError).errcode).toBe('M_LIMIT_EXCEEDED');
      expect((err as MatrixError).extra.retry_after_ms).toBe(500);
    }
    limiter.take('login', 'ip', 1500); // refilled one token after 500 ms
    limiter.take('login', 'other-ip', 1500); // keys are independent
  });

  it('ignores actions without a rule', () => {
    const limiter = new RateLimiter({});
    for (let i = 0; i < 100; i++) limiter.take('anything', 'k');
  });
});
