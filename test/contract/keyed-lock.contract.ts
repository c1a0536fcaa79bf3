import { describe, expect, it } from 'vitest';
import type { KeyedLock } from '../../homeserver/runtime/ports.js';
import { deferred, sleep } from './wait.js';

/** The KeyedLock contract; `make` returns a lock the caller owns (and closes). Keys are unique per test. */
export function keyedLockContract(name: string, make: () => Promise<KeyedLock>): void {
  let n = 0;
  const key = (label: string) => `${label}-${++n}-${Math.random().toString(36).slice(2)}`;

  describe(`KeyedLock contract: ${name}`, () => {
    it('runs callers of one key one at a time, in call order', async () => {
      const lock = await make();
      const k = key('serial');
      const events: string[] = [];
      let inside = 0;
      let maxInside = 0;
      const calls = [0, 1, 2, 3, 4].map((i) =>
        lock.withLock(k, async () => {
          inside++;
          maxInside = Math.max(maxInside, inside);
          events.push(`enter ${i}`);
          await sleep(i % 2 ? 1 : 15); // uneven holds: a FIFO bug would let a short one overtake
          events.push(`exit ${i}`);
          inside--;
          return i;
        }),
      );
      expect(await Promise.all(calls)).toEqual([0, 1, 2, 3, 4]);
      expect(maxInside).toBe(1);
      expect(events).toEqual([0, 1, 2, 3, 4].flatMap((i) => [`enter ${i}`, `exit ${i}`]));
    });

    it('does not block a different key', async () => {
      const lock = await make();
      const a = key('a');
      const b = key('b');
      const releaseA = deferred();
      const aHeld = deferred();
      const holdingA = lock.withLock(a, async () => {
        aHeld.resolve();
        await releaseA.promise;
        return 'a';
      });
      await aHeld.promise;
      // If keys blocked each other this would wait forever (A is only released after it), failing on timeout.
      expect(await lock.withLock(b, async () => 'b')).toBe('b');
      releaseA.resolve();
      expect(await holdingA).toBe('a');
    });

    it('releases the lock when the callback throws, and passes the error on', async () => {
      const lock = await make();
      const k = key('throw');
      const boom = new Error('boom');
      const failing = lock.withLock(k, async () => {
        throw boom;
      });
      const next = lock.withLock(k, async () => 'after');
      await expect(failing).rejects.toBe(boom);
      expect(await next).toBe('after');
      expect(await lock.withLock(k, async () => 'again')).toBe('again');
    });

    it('releases the lock when the callback throws synchronously', async () => {
      const lock = await make();
      const k = key('sync-throw');
      const fn = (() => {
        throw new Error('sync');
      }) as unknown as () => Promise<void>;
      await expect(lock.withLock(k, fn)).rejects.toThrow('sync');
      expect(await lock.withLock(k, async () => 'ok')).toBe('ok');
    });
  });
}
