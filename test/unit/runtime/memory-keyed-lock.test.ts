import { describe, expect, it } from 'vitest';
import { MemoryKeyedLock } from '../../../homeserver/runtime/memory-keyed-lock.js';

describe('MemoryKeyedLock bookkeeping', () => {
  it('forgets a key once its chain is idle, so the map does not grow with every key ever used', async () => {
    const lock = new MemoryKeyedLock();
    await Promise.all(Array.from({ length: 100 }, (_, i) => lock.withLock(`key-${i}`, async () => i)));
    expect(lock.size).toBe(0);
  });

  it('keeps a key while callers are queued on it and forgets it after the last one', async () => {
    const lock = new MemoryKeyedLock();
    const seen: number[] = [];
    const calls = [1, 2, 3].map((i) => lock.withLock('busy', async () => void seen.push(i)));
    expect(lock.size).toBe(1);
    await Promise.all(calls);
    expect(seen).toEqual([1, 2, 3]);
    expect(lock.size).toBe(0);
  });

  it('forgets the key after a throwing callback too', async () => {
    const lock = new MemoryKeyedLock();
    await expect(lock.withLock('k', async () => Promise.reject(new Error('x')))).rejects.toThrow('x');
    expect(lock.size).toBe(0);
  });
});
