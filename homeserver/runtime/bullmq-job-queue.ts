import { Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Service } from './lifecycle.js';
import { DEFAULT_ATTEMPTS, DEFAULT_BACKOFF_MS } from './memory-job-queue.js';
import { defaultErrorHandler, type JobOptions, type JobQueue, type RuntimeErrorHandler } from './ports.js';

export interface BullMqJobQueueOptions {
  /**
   * A connection owned by the caller. It must have `maxRetriesPerRequest: null` (BullMQ's requirement for workers,
   * which duplicate it). We pass an instance rather than a URL because BullMQ's ESM build cannot load ioredis itself.
   */
  connection: Redis;
  /** BullMQ key prefix, so deployments (and test runs) sharing a Redis never see each other's jobs. */
  prefix: string;
  onError?: RuntimeErrorHandler;
}

const JOB_NAME = 'job';

/** A JobQueue on BullMQ: jobId dedupe is BullMQ's jobId, retries are its attempts + exponential backoff. */
export class BullMqJobQueue<T> implements JobQueue<T> {
  private readonly queue: Queue;
  private readonly services = new Set<Service>();
  private readonly onError: RuntimeErrorHandler;

  constructor(
    readonly name: string,
    private readonly opts: BullMqJobQueueOptions,
  ) {
    this.onError = opts.onError ?? defaultErrorHandler;
    // The Queue uses the shared connection as is and leaves it open on close(); the caller owns it.
    this.queue = new Queue(name, { connection: opts.connection, prefix: opts.prefix });
    this.queue.on('error', (err) => this.onError(err, `job queue ${name}`));
  }

  async add(data: T, opts: JobOptions = {}): Promise<void> {
    await this.queue.add(JOB_NAME, data, {
      jobId: opts.jobId,
      delay: opts.delayMs,
      attempts: opts.attempts ?? DEFAULT_ATTEMPTS,
      backoff: { type: 'exponential', delay: opts.backoffMs ?? DEFAULT_BACKOFF_MS },
      // Finished jobs are deleted so a jobId can be enqueued again once its job is done ("dedupe while pending",
      // same as the memory adapter). Failures are reported through onError instead of kept in Redis.
      removeOnComplete: true,
      removeOnFail: true,
    });
  }

  process(handler: (data: T, attempt: number) => Promise<void>, opts: { concurrency?: number } = {}): Service {
    let worker: Worker | undefined;
    const service: Service = {
      name: `job-queue:${this.name}`,
      start: async () => {
        if (worker) return;
        // attemptsMade counts finished attempts, so the running one is attemptsMade + 1.
        worker = new Worker(this.name, async (job: Job) => handler(job.data as T, job.attemptsMade + 1), {
          connection: this.opts.connection, // duplicated by BullMQ into connections the worker owns and closes
          prefix: this.opts.prefix,
          concurrency: Math.max(1, opts.concurrency ?? 1),
        });
        worker.on('error', (err) => this.onError(err, `job worker ${this.name}`));
        // 'failed' fires on every failed attempt; only the last one means the job was dropped.
        worker.on('failed', (job, err) => {
          if (job && job.attemptsMade >= (job.opts.attempts ?? 1)) {
            this.onError(err, `job ${job.id} in queue ${this.name} failed after ${job.attemptsMade} attempts`);
          }
        });
        this.services.add(service);
        await worker.waitUntilReady();
      },
      stop: async () => {
        const w = worker;
        worker = undefined;
        this.services.delete(service);
        // close() waits for running jobs, then closes the worker's own connections.
        await w?.close();
      },
    };
    return service;
  }

  async close(): Promise<void> {
    await Promise.all([...this.services].map((s) => s.stop()));
    await this.queue.close();
  }

  async obliterate(): Promise<void> {
    await Promise.all([...this.services].map((s) => s.stop()));
    // force: also deletes jobs a worker of a dead process left active (their locks would never be released).
    await this.queue.obliterate({ force: true });
    await this.queue.close();
  }
}
