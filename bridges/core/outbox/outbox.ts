import type { PubSub } from '../../../homeserver/runtime/ports.js';
import type { Logger } from '../../../homeserver/runtime/logger.js';
import type { LoginDirectory } from '../login-directory.js';
import { UnsupportedContent } from '../convert/from-matrix.js';
import type { MatrixEvent } from '../matrix/transaction-receiver.js';
import type { LoginId, PortalKey } from '../network/ids.js';
import { NetworkError } from '../network/network-client.js';
import { applyMatrixEvent } from '../portal/matrix-events.js';
import type { PortalDeps } from '../portal/portal-deps.js';
import type { Portals } from '../portal/portals.js';
import type { OutboxStore, OutboxRow } from './outbox-store.js';
import { sendFailureStatus } from './send-status.js';

export interface OutboxOptions {
  maxAttempts: number;
  baseBackoffMs: number;
  maxBackoffMs: number;
  /** How long a claim lasts before another worker may take the row (a worker that died). */
  claimMs: number;
  /** Safety poll for retries that came due and wake-ups that were missed. */
  pollMs: number;
}

/**
 * The durable outbox of Matrix -> network sends.
 *
 *   AS transaction ──> insert row (PK = Matrix event id; a redelivery inserts nothing) ──> ack
 *        │ pub/sub wake-up (every worker)
 *        ▼
 *   worker holding the login's lease: claim due rows (SKIP LOCKED) ──> portal queue ──> client
 *        └─ sent: status 'sent' (never again) · retryable error: backoff · final: failure status in Matrix
 *
 * Postgres in both modes rather than BullMQ: a send must run in the worker that holds the
 * login's lease and in the portal's order, and a job queue hands a job to whichever worker asks
 * first. The row is the durable truth in either mode; pub/sub only wakes workers up.
 * Never delivered twice: a row marked sent is not claimed again, a message already mapped is
 * skipped, and the client receives the Matrix event id as its idempotency key for the window
 * between the network accepting a send and the row being marked.
 */
export class Outbox {
  private timer?: NodeJS.Timeout;
  private unsubscribe?: () => Promise<void>;
  private unwatch?: () => void;
  private draining?: Promise<void>;
  private again = false;
  private stopped = true;
  private inFlight = new Set<string>();
  private tasks = new Set<Promise<void>>();
  private readonly topic: string;

  constructor(
    private deps: {
      store: OutboxStore;
      portalDeps: PortalDeps;
      portals: Portals;
      logins: LoginDirectory;
      pubsub: PubSub;
      workerId: string;
      log: Logger;
      options: OutboxOptions;
    },
  ) {
    this.topic = `bridge.outbox.${deps.portalDeps.bridgeId}`;
  }

  async start(): Promise<void> {
    this.stopped = false;
    this.unsubscribe = await this.deps.pubsub.subscribe(this.topic, () => this.wake());
    this.unwatch = this.deps.logins.onAdded(() => this.wake());
    this.timer = setInterval(() => this.wake(), this.deps.options.pollMs);
    this.timer.unref();
    this.wake();
  }

  /** Stops claiming, lets running sends finish and gives back claims not started. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.unwatch?.();
    await this.unsubscribe?.();
    await this.draining;
    await Promise.allSettled([...this.tasks]);
  }

  /** Durably records a Matrix event for sending (before the transaction is acknowledged) and wakes the workers. */
  async enqueue(event: MatrixEvent, key: PortalKey, loginId: LoginId): Promise<void> {
    if (await this.deps.store.insert({ event, key, loginId })) await this.deps.pubsub.publish(this.topic, { loginId });
  }

  /** The outbox row of a Matrix event (operators, tests). */
  status(eventId: string) {
    return this.deps.store.status(eventId);
  }

  /** Resolves once nothing is claimed or running here (tests, graceful stop). */
  async idle(): Promise<void> {
    while (this.draining || this.tasks.size) {
      await this.draining;
      await Promise.allSettled([...this.tasks]);
    }
  }

  wake(): void {
    if (this.stopped) return;
    if (this.draining) {
      this.again = true;
      return;
    }
    this.draining = this.drain()
      .catch((err) => this.deps.log.warn({ err }, 'outbox drain failed'))
      .finally(() => {
        this.draining = undefined;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  private async drain(): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      const logins = this.deps.logins.sendable();
      const rows = (await this.deps.store.claim(this.deps.workerId, logins, 100, this.deps.options.claimMs)).filter(
        (r) => !this.inFlight.has(r.eventId),
      );
      if (!rows.length) return;
      for (const row of rows) this.schedule(row);
      if (rows.length < 100) return;
    }
  }

  private schedule(row: OutboxRow): void {
    this.inFlight.add(row.eventId);
    const portal = this.deps.portals.portalFor(row.key);
    const task = portal.queue
      .run(() => this.send(row, portal), 400, `outbox ${row.event.type}`)
      .catch((err) => this.deps.log.warn({ err, event: row.eventId }, 'outbox send crashed'))
      .finally(() => {
        this.inFlight.delete(row.eventId);
        this.tasks.delete(task);
      });
    this.tasks.add(task);
  }

  private async send(row: OutboxRow, portal: ReturnType<Portals['portalFor']>): Promise<void> {
    const login = this.deps.logins.get(row.loginId);
    if (this.stopped || !login || !login.client()?.isLoggedIn()) {
      await this.deps.store.release([row.eventId]);
      return;
    }
    try {
      await applyMatrixEvent(this.deps.portalDeps, portal, row.event, login);
      await this.deps.store.markSent(row.eventId);
    } catch (err) {
      const retryable = err instanceof NetworkError ? err.retryable : !(err instanceof UnsupportedContent);
      const code = err instanceof NetworkError ? err.code : err instanceof UnsupportedContent ? 'unsupported' : 'internal';
      const message = err instanceof NetworkError || err instanceof UnsupportedContent ? err.message : 'Internal bridge error';
      const attempt = row.attempts + 1;
      const { maxAttempts, baseBackoffMs, maxBackoffMs } = this.deps.options;
      if (retryable && attempt < maxAttempts) {
        const delay = Math.min(maxBackoffMs, baseBackoffMs * 2 ** (attempt - 1)) * (0.8 + Math.random() * 0.4);
        await this.deps.store.retryLater(row.eventId, Math.round(Date.now() + delay), `${code}: ${message}`);
        this.deps.log.debug({ event: row.eventId, attempt, code }, 'outbox send failed, will retry');
        setTimeout(() => this.wake(), delay + 5).unref();
        return;
      }
      await this.deps.store.markFailed(row.eventId, `${code}: ${message}`);
      this.deps.log.info({ event: row.eventId, attempt, code }, 'outbox send failed for good');
      await sendFailureStatus(this.deps.portalDeps.matrix.bot, {
        roomId: row.roomId,
        eventId: row.eventId,
        network: this.deps.portalDeps.bridgeId,
        code,
        message,
        retryable,
      }).catch((e) => this.deps.log.warn({ err: e }, 'could not send the failure status'));
    }
  }
}
