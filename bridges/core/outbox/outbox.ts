import type { Service } from '../../../homeserver/runtime/lifecycle.js';
import type { Logger } from '../../../homeserver/runtime/logger.js';
import type { JobQueue, Runtime } from '../../../homeserver/runtime/ports.js';
import { UnsupportedContent } from '../convert/from-matrix.js';
import type { LoginDirectory } from '../login-directory.js';
import type { MatrixEvent } from '../matrix/transaction-receiver.js';
import type { BridgeMetrics } from '../metrics/bridge-metrics.js';
import type { LoginId, PortalKey } from '../network/ids.js';
import { NetworkError } from '../network/network-client.js';
import { applyMatrixEvent } from '../portal/matrix-events.js';
import type { Portal } from '../portal/portal.js';
import type { PortalDeps } from '../portal/portal-deps.js';
import type { Portals } from '../portal/portals.js';
import { outboxJob, outboxJobId, outboxQueueName, portalKeyOf, type OutboxJob } from './outbox-job.js';
import { OutboxPruner } from './outbox-pruner.js';
import type { OutboxRow, OutboxStore } from './outbox-store.js';
import type { OutboxWorkers } from './outbox-workers.js';
import { sendFailureStatus } from './send-status.js';

export interface OutboxOptions {
  maxAttempts: number;
  baseBackoffMs: number;
  maxBackoffMs: number;
  /** How long a claim lasts before another worker may take the row (a worker that died mid-send). */
  claimMs: number;
  /** Heartbeat and safety sweep: rows whose job was lost (a dead worker's queue, an add that failed). */
  pollMs: number;
  /** How long sent and failed rows are kept (the dedupe window of redelivered transactions). */
  retentionMs: number;
  /** How often the rows past retention are deleted. Default 10 minutes. */
  pruneIntervalMs?: number;
  /**
   * A worker silent this long is gone and its queue is deleted. Must exceed the login lease TTL by
   * a margin: until its leases expire, other workers may still route jobs to its queue.
   */
  queueExpiryMs: number;
  /** Sends handed to portal queues at once in this worker before the job queue waits for them. Default 1000. */
  maxInFlight?: number;
}

/** A job queued here that has not run by its due time plus this much is presumed lost and queued again. */
const LOST_AFTER_MS = 60_000;
const SWEEP_PAGE = 500;

/**
 * The durable outbox of Matrix -> network sends.
 *
 *   AS transaction ──> insert row (PK = Matrix event id; a redelivery inserts nothing) ──> ack
 *        │ job {eventId} to the queue of the worker holding the login's lease
 *        │ (this worker if the login runs here, else the lease owner's; none: left for its next owner)
 *        ▼
 *   bridge-outbox.<bridge>.<worker> (BullMQ with Redis, in-process otherwise)
 *        ▼ in job order onto the portal's serial queue
 *   claim the row (one UPDATE: a job duplicated across queues runs once) ──> client
 *        └─ sent: status 'sent' (never again) · retryable: retry_later + a delayed job
 *           · final: status 'failed' and the failure status in Matrix
 *
 * The row in Postgres is the durable record in both modes; a job only says "look at this row,
 * here". That is what lets a send run in the one worker that has the login's live client: a
 * shared queue would hand the job to whichever worker asks first, so each worker has its own
 * queue and jobs are routed by the login lease. When a login becomes sendable here (connected and
 * caught up: `wake(loginId)`), its unclaimed rows are swept into this worker's queue in `seq`
 * order, which is how a new owner redoes the jobs left in a dead worker's queue. A periodic
 * safety sweep catches jobs lost otherwise; queues of workers silent for `queueExpiryMs` are
 * deleted; sent and failed rows are pruned after `retentionMs`.
 *
 * Never delivered twice: a row marked sent is not claimed again, a claim is taken by one job
 * only, a message already mapped is skipped, and the client receives the Matrix event id as its
 * idempotency key for the window between the network accepting a send and the row being marked.
 */
export class Outbox {
  private queue!: JobQueue<OutboxJob>;
  private processor?: Service;
  private timer?: NodeJS.Timeout;
  private stopped = true;
  private ticking?: Promise<void>;
  private lastCleanup = 0;
  private lastPrune = 0;
  /** Jobs this worker queued for itself and not yet finished (job id -> when due): the pending gauge, and what sweeps skip. */
  private readonly queued = new Map<string, number>();
  /** Sends handed to portal queues and not finished. */
  private readonly running = new Set<Promise<void>>();
  private sweeping?: Promise<void>;
  private sweepAll = false;
  private readonly toSweep = new Set<LoginId>();
  /** Logins the running sweep is queueing: new rows of theirs wait for it (see route). */
  private sweepingNow = new Set<LoginId>();
  private readonly pruner: OutboxPruner;
  private readonly queueName: string;

  constructor(
    private deps: {
      store: OutboxStore;
      workers: OutboxWorkers;
      runtime: Pick<Runtime, 'jobs'>;
      portalDeps: PortalDeps;
      portals: Portals;
      logins: LoginDirectory;
      workerId: string;
      log: Logger;
      options: OutboxOptions;
      metrics?: BridgeMetrics;
    },
  ) {
    this.queueName = outboxQueueName(deps.portalDeps.bridgeId, deps.workerId);
    this.pruner = new OutboxPruner(deps.store, deps.options.retentionMs, deps.log);
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.deps.workers.beat(this.deps.workerId);
    await this.openQueue();
    this.timer = setInterval(() => this.tick(), this.deps.options.pollMs);
    this.timer.unref();
    this.tick();
  }

  /**
   * Takes no more jobs and lets running sends finish (sends not started leave their rows pending).
   * Jobs still in this worker's queue are not lost: their rows stay pending and the login's next
   * owner sweeps them; the queue itself is deleted once this worker has been silent long enough.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.ticking;
    await this.processor?.stop();
    await this.idle();
    await this.queue?.close();
    this.queued.clear();
  }

  /** Durably records a Matrix event for sending (before the transaction is acknowledged) and queues it where its login runs. */
  async enqueue(event: MatrixEvent, key: PortalKey, loginId: LoginId): Promise<void> {
    if (!(await this.deps.store.insert({ event, key, loginId }))) return; // a redelivery: queued the first time
    await this.route(outboxJob({ eventId: event.event_id, loginId, key, attempts: 0 })).catch((err) =>
      this.deps.log.warn({ err, event: event.event_id }, 'outbox job not queued; the safety sweep will queue it'),
    );
  }

  /** Sends queued or running in this worker (a metrics gauge). */
  pendingCount(): number {
    return this.queued.size;
  }

  /** The outbox row of a Matrix event (operators, tests). */
  status(eventId: string) {
    return this.deps.store.status(eventId);
  }

  /** Resolves once nothing is being swept or sent here (tests, graceful stop). */
  async idle(): Promise<void> {
    while (this.sweeping || this.running.size) {
      await this.sweeping;
      await Promise.allSettled([...this.running]);
    }
  }

  /**
   * Queues the unclaimed rows of a login that became sendable here (or of every sendable login),
   * oldest first. Coalesced: calls during a sweep make it run once more.
   */
  wake(loginId?: LoginId): void {
    if (this.stopped) return;
    if (loginId) this.toSweep.add(loginId);
    else this.sweepAll = true;
    this.startSweep();
  }

  private startSweep(): void {
    if (this.sweeping || this.stopped) return;
    this.sweeping = this.sweepWhileAsked()
      .catch((err) => this.deps.log.warn({ err }, 'outbox sweep failed'))
      .finally(() => {
        this.sweeping = undefined;
        // Asked for between the loop's last check and now.
        if (this.sweepAll || this.toSweep.size) this.startSweep();
      });
  }

  private async openQueue(): Promise<void> {
    this.queue = this.deps.runtime.jobs<OutboxJob>(this.queueName);
    // Concurrency 1: jobs are handed to portal queues in queue order (the handler only hands off).
    this.processor = this.queue.process((job) => this.handle(job), { concurrency: 1 });
    await this.processor.start();
  }

  /** Heartbeat, safety sweep, deletion of dead workers' queues, pruning; one at a time. */
  private tick(): void {
    if (this.ticking || this.stopped) return;
    this.ticking = this.housekeeping().finally(() => (this.ticking = undefined));
  }

  private async housekeeping(): Promise<void> {
    const { options, log } = this.deps;
    try {
      if ((await this.deps.workers.beat(this.deps.workerId)) && !this.stopped) {
        // Our registry row was gone: another worker took us for dead and deleted our queue.
        log.warn({ worker: this.deps.workerId }, 'outbox queue was deleted as a dead worker’s; reopening it');
        await this.processor?.stop();
        this.queued.clear();
        await this.openQueue();
      }
      this.wake();
      const now = Date.now();
      if (now - this.lastCleanup >= Math.max(options.pollMs, options.queueExpiryMs / 4)) {
        this.lastCleanup = now;
        await this.deleteDeadQueues();
      }
      if (now - this.lastPrune >= (options.pruneIntervalMs ?? 600_000)) {
        this.lastPrune = now;
        await this.pruner.prune();
      }
    } catch (err) {
      log.warn({ err }, 'outbox housekeeping failed');
    }
  }

  /**
   * Deletes the queues of workers silent for `queueExpiryMs`. Their jobs are not needed: the rows
   * are still pending in Postgres and the logins' new owners sweep them.
   */
  private async deleteDeadQueues(): Promise<void> {
    const before = Date.now() - this.deps.options.queueExpiryMs;
    for (const worker of await this.deps.workers.silentSince(before)) {
      if (this.stopped) return;
      if (worker === this.deps.workerId) continue;
      await this.deps.runtime.jobs(outboxQueueName(this.deps.portalDeps.bridgeId, worker)).obliterate();
      await this.deps.workers.forget(worker, before);
      this.deps.log.info({ worker }, 'deleted the outbox queue of a worker that is gone');
    }
  }

  private sendableHere(loginId: LoginId): boolean {
    return this.deps.logins.get(loginId) !== undefined && this.deps.logins.sendable().includes(loginId);
  }

  /**
   * Sends the job to the worker that can run it: this one if the login is sendable here, else the
   * lease owner. A login held here but still catching up, or held by nobody, is left alone: the
   * sweep when it becomes sendable (here or at its next owner) queues it.
   */
  private async route(job: OutboxJob): Promise<void> {
    if (this.sendableHere(job.loginId)) {
      // While a sweep of this login is due or running, let it queue the row, so it cannot overtake older rows.
      if (this.sweeping && (this.sweepAll || this.toSweep.has(job.loginId) || this.sweepingNow.has(job.loginId)))
        return this.wake(job.loginId);
      return this.queueHere(job, 0);
    }
    if (this.deps.logins.get(job.loginId)) return;
    const owner = await this.deps.workers.leaseOwner(job.loginId);
    if (!owner || owner === this.deps.workerId) return;
    await this.deps.runtime
      .jobs<OutboxJob>(outboxQueueName(this.deps.portalDeps.bridgeId, owner))
      .add(job, { jobId: outboxJobId(job), attempts: 1 });
  }

  private async queueHere(job: OutboxJob, delayMs: number): Promise<void> {
    if (this.stopped) return;
    const jobId = outboxJobId(job);
    this.queued.set(jobId, Date.now() + delayMs);
    try {
      // attempts 1: retries are ours (a new job per attempt), so the last failure reaches Matrix.
      await this.queue.add(job, { jobId, attempts: 1, ...(delayMs > 0 ? { delayMs } : {}) });
    } catch (err) {
      this.queued.delete(jobId);
      throw err;
    }
  }

  private async sweepWhileAsked(): Promise<void> {
    while (!this.stopped && (this.sweepAll || this.toSweep.size)) {
      const logins = this.sweepAll ? this.deps.logins.sendable() : [...this.toSweep].filter((l) => this.sendableHere(l));
      this.sweepAll = false;
      this.toSweep.clear();
      this.sweepingNow = new Set(logins);
      try {
        await this.sweep(logins);
      } finally {
        this.sweepingNow.clear();
      }
    }
  }

  private async sweep(logins: LoginId[]): Promise<void> {
    for (let after = 0; ;) {
      const rows = await this.deps.store.unclaimed(logins, after, SWEEP_PAGE);
      const now = Date.now();
      for (const row of rows) {
        if (this.stopped) return;
        const job = outboxJob(row);
        const due = this.queued.get(outboxJobId(job));
        if (due !== undefined && due + LOST_AFTER_MS > now) continue; // queued here already
        if (!this.sendableHere(row.loginId)) continue; // went away meanwhile: its next owner sweeps it
        await this.queueHere(job, Math.max(0, row.dueTs - now));
      }
      if (rows.length < SWEEP_PAGE) return;
      after = rows[rows.length - 1]!.seq;
    }
  }

  /**
   * The queue's handler: hands the job to its portal's serial queue at once (so sends keep the
   * job order per portal) and returns; the job queue waits for the send only when too many are
   * in flight, which keeps a backlog in the queue (Redis) rather than in memory. Never throws:
   * retries are new jobs.
   */
  private async handle(job: OutboxJob): Promise<void> {
    const jobId = outboxJobId(job);
    if (!this.sendableHere(job.loginId)) {
      this.queued.delete(jobId);
      await this.route(job).catch((err) => this.deps.log.warn({ err, event: job.eventId }, 'outbox job not rerouted'));
      return;
    }
    const portal = this.deps.portals.portalFor(portalKeyOf(job));
    const task: Promise<void> = portal.queue
      .run(() => this.attempt(job, portal), 400, `outbox ${job.eventId}`)
      .catch((err) => this.deps.log.warn({ err, event: job.eventId }, 'outbox send crashed'))
      .finally(() => {
        this.queued.delete(jobId);
        this.running.delete(task);
      });
    this.running.add(task);
    if (this.running.size > (this.deps.options.maxInFlight ?? 1000)) await task;
  }

  /** One attempt at one row, on the portal's queue. */
  private async attempt(job: OutboxJob, portal: Portal): Promise<void> {
    const { store, workerId, options } = this.deps;
    if (this.stopped) return; // the row stays pending for the login's next owner
    const row = await store.claimOne(job.eventId, workerId, options.claimMs);
    if (!row) return; // sent or failed already, not due yet (its own job comes), or being sent elsewhere
    const login = this.deps.logins.get(row.loginId);
    if (this.stopped || !login || !this.sendableHere(row.loginId) || !login.client()?.isLoggedIn()) {
      await store.release([row.eventId]);
      // Held here but not ready: its sweep after the next catch-up queues it. Gone: to its owner.
      if (!this.stopped && !login) await this.route(outboxJob(row));
      return;
    }
    try {
      await applyMatrixEvent(this.deps.portalDeps, portal, row.event, login);
      await store.markSent(row.eventId);
      this.deps.metrics?.outboxResult('sent');
    } catch (err) {
      await this.failed(row, err);
    }
  }

  private async failed(row: OutboxRow, err: unknown): Promise<void> {
    const { store, log, options, metrics } = this.deps;
    const retryable = err instanceof NetworkError ? err.retryable : !(err instanceof UnsupportedContent);
    const code = err instanceof NetworkError ? err.code : err instanceof UnsupportedContent ? 'unsupported' : 'internal';
    const message = err instanceof NetworkError || err instanceof UnsupportedContent ? err.message : 'Internal bridge error';
    const attempt = row.attempts + 1;
    if (retryable && attempt < options.maxAttempts) {
      const delay = Math.min(options.maxBackoffMs, options.baseBackoffMs * 2 ** (attempt - 1)) * (0.8 + Math.random() * 0.4);
      const dueTs = Math.round(Date.now() + delay);
      await store.retryLater(row.eventId, dueTs, `${code}: ${message}`);
      metrics?.outboxResult('retry');
      log.debug({ event: row.eventId, attempt, code }, 'outbox send failed, will retry');
      await this.queueHere(outboxJob({ ...row, attempts: attempt }), Math.max(0, dueTs - Date.now())).catch((e) =>
        log.warn({ err: e, event: row.eventId }, 'outbox retry not queued; the safety sweep will queue it'),
      );
      return;
    }
    await store.markFailed(row.eventId, `${code}: ${message}`);
    metrics?.outboxResult('failed');
    metrics?.deliveryFailure('to_network', code);
    log.info({ event: row.eventId, attempt, code }, 'outbox send failed for good');
    await sendFailureStatus(this.deps.portalDeps.matrix.bot, {
      roomId: row.roomId,
      eventId: row.eventId,
      network: this.deps.portalDeps.bridgeId,
      code,
      message,
      retryable,
    }).catch((e) => log.warn({ err: e }, 'could not send the failure status'));
  }
}
