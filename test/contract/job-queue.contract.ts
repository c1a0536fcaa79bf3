import { afterEach, describe, expect, it } from 'vitest';
import type { Service } from '../../homeserver/runtime/lifecycle.js';
import type { JobQueue } from '../../homeserver/runtime/ports.js';
import { deferred, sleep, waitUntil } from './wait.js';

interface Item {
  id: string;
}

/**
 * The JobQueue contract. `make` returns a fresh, empty queue the caller owns (and closes); the processors the
 * tests start are stopped here. Absence ("not run again") is checked after a settle time far above the
 * backoffs used, so a slow machine can only hide a bug, never fail a correct adapter.
 */
export function jobQueueContract(name: string, make: () => Promise<JobQueue<Item>>): void {
  describe(`JobQueue contract: ${name}`, () => {
    const services: Service[] = [];
    const start = async (queue: JobQueue<Item>, handler: (data: Item, attempt: number) => Promise<void>, concurrency?: number) => {
      const service = queue.process(handler, { concurrency });
      services.push(service);
      await service.start();
      return service;
    };
    afterEach(async () => {
      await Promise.all(services.splice(0).map((s) => s.stop()));
    });

    it('delivers each job exactly once, with attempt 1', async () => {
      const queue = await make();
      const seen: string[] = [];
      await start(queue, async (job, attempt) => void seen.push(`${job.id}@${attempt}`), 4);
      const ids = Array.from({ length: 20 }, (_, i) => `job${i}`);
      await Promise.all(ids.map((id) => queue.add({ id })));
      await waitUntil(() => seen.length >= ids.length, 'all jobs');
      await sleep(100);
      expect([...seen].sort()).toEqual(ids.map((id) => `${id}@1`).sort());
    });

    it('keeps jobs added before any processor runs until one starts', async () => {
      const queue = await make();
      await queue.add({ id: 'early' });
      const seen: string[] = [];
      await start(queue, async (job) => void seen.push(job.id));
      await waitUntil(() => seen.length === 1, 'the early job');
      expect(seen).toEqual(['early']);
    });

    it('dedupes a jobId while the job is pending, and accepts it again once done', async () => {
      const queue = await make();
      await queue.add({ id: 'first' }, { jobId: 'same' });
      await queue.add({ id: 'duplicate' }, { jobId: 'same' });
      await queue.add({ id: 'other' }, { jobId: 'different' });
      await queue.add({ id: 'last' });
      const seen: string[] = [];
      await start(queue, async (job) => void seen.push(job.id), 1);
      // Concurrency 1 is FIFO, so once 'last' ran everything added before it has run.
      await waitUntil(() => seen.includes('last'), 'the last job');
      expect(seen).toEqual(['first', 'other', 'last']);
      await queue.add({ id: 'again' }, { jobId: 'same' });
      await waitUntil(() => seen.includes('again'), 'the re-added job');
      expect(seen).toEqual(['first', 'other', 'last', 'again']);
    });

    it('rejects jobIds BullMQ cannot store (integers, containing ":")', async () => {
      const queue = await make();
      await expect(queue.add({ id: 'x' }, { jobId: '42' })).rejects.toThrow();
      await expect(queue.add({ id: 'x' }, { jobId: 'a:b' })).rejects.toThrow();
    });

    it('dedupes a jobId while its job is running', async () => {
      const queue = await make();
      const release = deferred();
      const seen: string[] = [];
      await start(queue, async (job) => {
        seen.push(job.id);
        if (job.id === 'running') await release.promise;
      });
      await queue.add({ id: 'running' }, { jobId: 'busy' });
      await waitUntil(() => seen.length === 1, 'the job to start');
      await queue.add({ id: 'duplicate' }, { jobId: 'busy' });
      release.resolve();
      await queue.add({ id: 'marker' });
      await waitUntil(() => seen.includes('marker'), 'the marker job');
      expect(seen).toEqual(['running', 'marker']);
    });

    it('retries a failed job with backoff and succeeds on a later attempt', async () => {
      const queue = await make();
      const attempts: number[] = [];
      let succeeded = false;
      await start(queue, async (_job, attempt) => {
        attempts.push(attempt);
        if (attempt < 3) throw new Error(`attempt ${attempt} fails (expected in this test)`);
        succeeded = true;
      });
      await queue.add({ id: 'flaky' }, { attempts: 5, backoffMs: 10 });
      await waitUntil(() => succeeded, 'the third attempt to succeed');
      await sleep(200);
      expect(attempts).toEqual([1, 2, 3]);
    });

    it('gives up after `attempts` tries', async () => {
      const queue = await make();
      const attempts: number[] = [];
      await start(queue, async (_job, attempt) => {
        attempts.push(attempt);
        throw new Error('always fails (expected in this test)');
      });
      await queue.add({ id: 'doomed' }, { attempts: 2, backoffMs: 10 });
      await waitUntil(() => attempts.length >= 2, 'two attempts');
      await sleep(300); // a third try would come 20ms after the second
      expect(attempts).toEqual([1, 2]);
    });

    it('tries 3 times by default', async () => {
      const queue = await make();
      const attempts: number[] = [];
      await start(queue, async (_job, attempt) => {
        attempts.push(attempt);
        throw new Error('always fails (expected in this test)');
      });
      await queue.add({ id: 'doomed' }, { backoffMs: 10 });
      await waitUntil(() => attempts.length >= 3, 'three attempts');
      await sleep(300); // a fourth try would come 40ms after the third
      expect(attempts).toEqual([1, 2, 3]);
    });

    it('does not run a delayed job before its delay', async () => {
      const queue = await make();
      const seen: string[] = [];
      const seenWhenImmediateRan: string[] = [];
      await queue.add({ id: 'delayed' }, { delayMs: 500 });
      await queue.add({ id: 'immediate' });
      await start(queue, async (job) => {
        if (job.id === 'immediate') seenWhenImmediateRan.push(...seen);
        seen.push(job.id);
      });
      // Added first, so without the delay 'delayed' would run first (FIFO).
      await waitUntil(() => seen.length === 2, 'both jobs');
      expect(seen).toEqual(['immediate', 'delayed']);
      expect(seenWhenImmediateRan).toEqual([]);
    });

    it('processes serially, in order, with concurrency 1', async () => {
      const queue = await make();
      const events: string[] = [];
      let active = 0;
      let maxActive = 0;
      await start(
        queue,
        async (job) => {
          active++;
          maxActive = Math.max(maxActive, active);
          events.push(`start ${job.id}`);
          await sleep(10);
          events.push(`end ${job.id}`);
          active--;
        },
        1,
      );
      const ids = ['a', 'b', 'c', 'd', 'e'];
      for (const id of ids) await queue.add({ id });
      await waitUntil(() => events.length === ids.length * 2, 'all jobs');
      expect(maxActive).toBe(1);
      expect(events).toEqual(ids.flatMap((id) => [`start ${id}`, `end ${id}`]));
    });

    it('runs up to `concurrency` jobs at once', async () => {
      const queue = await make();
      const allStarted = deferred();
      let started = 0;
      await start(
        queue,
        async () => {
          if (++started === 3) allStarted.resolve();
          // Each job waits for the other two: with fewer than 3 slots this never finishes and the test times out.
          await allStarted.promise;
        },
        3,
      );
      await Promise.all(['x', 'y', 'z'].map((id) => queue.add({ id })));
      await allStarted.promise;
      expect(started).toBe(3);
    });

    it('stop() waits for the running job and then takes no more jobs', async () => {
      const queue = await make();
      const release = deferred();
      const seen: string[] = [];
      let finished = false;
      const service = await start(queue, async (job) => {
        seen.push(job.id);
        await release.promise;
        finished = true;
      });
      await queue.add({ id: 'running' });
      await waitUntil(() => seen.length === 1, 'the job to start');
      const stopping = service.stop();
      release.resolve();
      await stopping;
      expect(finished).toBe(true);
      await queue.add({ id: 'after stop' });
      await sleep(200);
      expect(seen).toEqual(['running']);
      const later: string[] = [];
      await start(queue, async (job) => void later.push(job.id));
      await waitUntil(() => later.length === 1, 'a new processor to take the job');
      expect(later).toEqual(['after stop']);
    });
  });
}
