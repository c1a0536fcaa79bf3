import { randomUUID } from 'node:crypto';
import type { Service } from './lifecycle.js';
import { defaultErrorHandler, type JobOptions, type JobQueue, type RuntimeErrorHandler } from './ports.js';

export const DEFAULT_ATTEMPTS = 3;
export const DEFAULT_BACKOFF_MS = 1000;

/** Exponential backoff before retry number `retry` (1-based), the same formula BullMQ uses. */
export function backoffDelay(backoffMs: number, retry: number): number {
  return Math.round(backoffMs * 2 ** (retry - 1));
}

/** BullMQ's rules, enforced here too so code that works on memory does not fail only in cluster mode. */
export function assertValidQueueName(name: string): void {
  if (!name || name.includes(':')) throw new Error(`invalid queue name ${JSON.stringify(name)}: must be non-empty without ':'`);
}
function assertValidJobId(id: string): void {
  if (`${parseInt(id, 10)}` === id || id.includes(':'))
    throw new Error(`invalid jobId ${JSON.stringify(id)}: must not be an integer or contain ':'`);
}

interface Job {
  id: string;
  json: string;
  attemptsMade: number;
  attempts: number;
  backoffMs: number;
}

interface Processor<T> {
  handler: (data: T, attempt: number) => Promise<void>;
  concurrency: number;
  running: Set<Promise<void>>;
}

/** A single-process queue mirroring the BullMQ adapter: FIFO, jobId dedupe while pending, delays, retries with backoff. */
export class MemoryJobQueue<T> implements JobQueue<T> {
  private readonly ready: Job[] = [];
  /** Ids of jobs waiting, delayed, running or awaiting a retry: what jobId dedupes against. */
  private readonly pending = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly processors = new Set<Processor<T>>();
  private readonly services = new Set<Service>();
  private closed = false;

  constructor(
    readonly name: string,
    private readonly onError: RuntimeErrorHandler = defaultErrorHandler,
  ) {
    assertValidQueueName(name);
  }

  async add(data: T, opts: JobOptions = {}): Promise<void> {
    if (this.closed) throw new Error(`job queue ${this.name} is closed`);
    if (opts.jobId !== undefined) assertValidJobId(opts.jobId);
    const id = opts.jobId ?? `auto-${randomUUID()}`;
    if (this.pending.has(id)) return;
    this.pending.add(id);
    // Stored as JSON like BullMQ, so handlers get a copy and non-serialisable data fails on both adapters.
    const job: Job = {
      id,
      json: JSON.stringify(data),
      attemptsMade: 0,
      attempts: opts.attempts ?? DEFAULT_ATTEMPTS,
      backoffMs: opts.backoffMs ?? DEFAULT_BACKOFF_MS,
    };
    this.enqueue(job, opts.delayMs ?? 0);
  }

  process(handler: (data: T, attempt: number) => Promise<void>, opts: { concurrency?: number } = {}): Service {
    const processor: Processor<T> = { handler, concurrency: Math.max(1, opts.concurrency ?? 1), running: new Set() };
    const service: Service = {
      name: `job-queue:${this.name}`,
      start: async () => {
        if (this.closed) throw new Error(`job queue ${this.name} is closed`);
        this.processors.add(processor);
        this.services.add(service);
        this.pump();
      },
      stop: async () => {
        // No new jobs for this processor; the running ones finish (and may schedule retries for other processors).
        this.processors.delete(processor);
        this.services.delete(service);
        await Promise.all(processor.running);
      },
    };
    return service;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.services].map((s) => s.stop()));
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.ready.length = 0;
    this.pending.clear();
  }

  /** The jobs live in this object only, so closing it (which drops them) is all there is to delete. */
  async obliterate(): Promise<void> {
    await this.close();
  }

  private enqueue(job: Job, delayMs: number): void {
    if (delayMs <= 0) {
      this.ready.push(job);
      this.pump();
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.enqueue(job, 0);
    }, delayMs);
    // A pending delayed job must not keep the process alive; close() clears these anyway.
    timer.unref();
    this.timers.add(timer);
  }

  /** Hands ready jobs to processors with free slots, in FIFO order. */
  private pump(): void {
    for (const processor of this.processors) {
      while (this.ready.length > 0 && processor.running.size < processor.concurrency) {
        const run = this.run(processor, this.ready.shift()!).finally(() => {
          processor.running.delete(run);
          this.pump();
        });
        processor.running.add(run);
      }
    }
  }

  private async run(processor: Processor<T>, job: Job): Promise<void> {
    // Yield first so a handler never runs inside add()/start(), as with BullMQ.
    await Promise.resolve();
    try {
      await processor.handler(JSON.parse(job.json) as T, job.attemptsMade + 1);
      this.pending.delete(job.id);
    } catch (err) {
      job.attemptsMade++;
      if (this.closed) return;
      if (job.attemptsMade < job.attempts) {
        this.enqueue(job, backoffDelay(job.backoffMs, job.attemptsMade));
      } else {
        this.pending.delete(job.id);
        this.onError(err, `job ${job.id} in queue ${this.name} failed after ${job.attempts} attempts`);
      }
    }
  }
}
