import { describe, expect, it } from 'vitest';
import { backoffDelay, MemoryJobQueue } from '../../../homeserver/runtime/memory-job-queue.js';

describe('MemoryJobQueue', () => {
  it('backs off exponentially like BullMQ', () => {
    expect([1, 2, 3, 4].map((retry) => backoffDelay(100, retry))).toEqual([100, 200, 400, 800]);
  });

  it('reports a job that gave up, once', async () => {
    const errors: string[] = [];
    const queue = new MemoryJobQueue<number>('q', (_err, context) => errors.push(context));
    const service = queue.process(async () => Promise.reject(new Error('nope')));
    await service.start();
    await queue.add(1, { jobId: 'j', attempts: 2, backoffMs: 1 });
    await expect.poll(() => errors).toEqual(['job j in queue q failed after 2 attempts']);
    await queue.close();
  });

  it('close() drops pending delayed jobs and rejects new ones', async () => {
    const queue = new MemoryJobQueue<number>('q');
    let ran = false;
    await queue.process(async () => void (ran = true)).start();
    await queue.add(1, { delayMs: 20 });
    await queue.close();
    await new Promise((r) => setTimeout(r, 60));
    expect(ran).toBe(false);
    await expect(queue.add(2)).rejects.toThrow('closed');
  });
});
