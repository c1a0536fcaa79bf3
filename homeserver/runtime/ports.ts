import type { Service } from './lifecycle.js';

/**
 * The runtime ports: everything the homeserver needs from "the rest of the cluster". Services depend on these
 * interfaces only; `create-runtime.ts` picks the in-memory adapters (one process) or the Redis ones (a cluster).
 * Both adapters of each port pass the same contract suite in test/contract/, so code tested against memory
 * behaves the same on Redis.
 */

export interface JobOptions {
  /** Dedupe key: while a job with this id is pending (waiting, delayed, running or awaiting a retry), adding it again is a no-op. Must not be an integer or contain ':' (BullMQ rules). */
  jobId?: string;
  /** Run no earlier than this many ms from now. */
  delayMs?: number;
  /** Total tries including the first; default 3. */
  attempts?: number;
  /** Base of the exponential retry backoff (backoffMs * 2^(retry-1)); default 1000. */
  backoffMs?: number;
}

export interface JobQueue<T> {
  readonly name: string;
  /** Enqueues a job (JSON-serialisable data). The same jobId is not enqueued twice while pending. */
  add(data: T, opts?: JobOptions): Promise<void>;
  /**
   * Returns a processor; jobs flow once it is started. `attempt` is 1-based. A throwing handler is retried with
   * backoff up to `attempts` (default 3), then the job is dropped and reported. Several processors of one queue,
   * in one process or many, share its jobs: each job is delivered to one of them.
   */
  process(handler: (data: T, attempt: number) => Promise<void>, opts?: { concurrency?: number }): Service;
  /** Stops this queue's processors (waiting for running jobs) and releases its resources. */
  close(): Promise<void>;
  /**
   * Deletes the queue from the transport (every waiting, delayed and running job, and its bookkeeping), after
   * stopping this process's processors; then closes it. For queues whose consumer is gone (a dead worker's), so
   * they do not stay in Redis forever. A later `jobs(name)` gets a fresh, empty queue.
   */
  obliterate(): Promise<void>;
}

export interface PubSub {
  /** Fire-and-forget broadcast to every subscriber of the topic, in every process (including this one). JSON-serialisable messages. */
  publish(topic: string, message: unknown): Promise<void>;
  /** Resolves once the subscription is live (messages published after that are delivered); returns unsubscribe. */
  subscribe(topic: string, listener: (message: unknown) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export interface KeyedLock {
  /** Runs fn while holding the lock for key; callers of the same key run strictly one after another in FIFO order; different keys never block each other. */
  withLock<R>(key: string, fn: () => Promise<R>): Promise<R>;
}

export interface Runtime {
  transport: 'memory' | 'redis';
  /** The queue of that name; repeated calls return the same queue until it is closed. Names must not contain ':'. */
  jobs<T>(queueName: string): JobQueue<T>;
  pubsub: PubSub;
  locks: KeyedLock;
  /** Stops every processor, closes every queue and the pubsub, and (Redis) closes every connection so the process can exit. */
  close(): Promise<void>;
}

/** How adapters report errors nobody awaits (a job that gave up, a listener that threw, a connection error). */
export type RuntimeErrorHandler = (err: unknown, context: string) => void;

export const defaultErrorHandler: RuntimeErrorHandler = (err, context) => console.error(`[runtime] ${context}:`, err);
