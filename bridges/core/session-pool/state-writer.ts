import type { PubSub } from '../../../homeserver/runtime/ports.js';
import type { Db } from '../../../homeserver/storage/db.js';
import type { Logger } from '../../../homeserver/runtime/logger.js';
import type { BridgeState } from '../network/bridge-state.js';
import type { LoginId } from '../network/ids.js';
import type { UserLoginStore } from '../storage/user-logins.js';

/** What other processes receive on `bridge.state.<bridgeId>` once a state is persisted. */
export interface BridgeStateMessage {
  bridgeId: string;
  loginId: string;
  userMxid: string;
  state: BridgeState;
}

export const bridgeStateTopic = (bridgeId: string) => `bridge.state.${bridgeId}`;

interface Pending {
  userMxid: string;
  state: BridgeState;
  /** Checked right before writing: a login this worker no longer holds is another worker's to report. */
  stillOwner: () => boolean;
  /** Callers waiting for this write (or the newer one that replaced it). */
  done: (() => void)[];
}

/**
 * Persists bridge states (UserLoginStore.setState) and then publishes them. At start-up 5,000
 * logins go CONNECTING -> CONNECTED within seconds, and one autocommit UPDATE each (one fsync
 * each) would take longer than the connects; so queued states are written in batches, one
 * transaction per batch (one fsync), with at most `concurrency` batches in flight.
 *
 * Writes of one login are coalesced while queued (only the newest state is written, which is
 * all whoami shows) and a login is never in two batches at once, so its row ends with the
 * newest state. A state is published only after its batch committed.
 */
export class StateWriter {
  private readonly pending = new Map<string, Pending>();
  private readonly inFlight = new Map<string, Pending>();
  private running = 0;
  private idle: { promise: Promise<void>; resolve: () => void } | undefined;

  constructor(
    private readonly db: Db,
    private readonly logins: UserLoginStore,
    private readonly pubsub: PubSub,
    private readonly bridgeId: string,
    private readonly log: Logger,
    private readonly concurrency = 2,
    private readonly batchSize = 200,
  ) {}

  /** Queues a state; resolves once it (or a newer state of the login) is written, dropped or failed. Never rejects. */
  write(loginId: LoginId, userMxid: string, state: BridgeState, stillOwner: () => boolean): Promise<void> {
    return new Promise((resolve) => {
      const done = this.pending.get(loginId)?.done ?? [];
      done.push(resolve);
      this.pending.set(loginId, { userMxid, state, stillOwner, done });
      this.pump();
    });
  }

  /** Resolves once the login's queued or running write (if any) is done. */
  whenWritten(loginId: string): Promise<void> {
    const job = this.pending.get(loginId) ?? this.inFlight.get(loginId);
    if (!job) return Promise.resolve();
    return new Promise((resolve) => job.done.push(resolve));
  }

  /** Resolves once every queued state is written (or dropped). */
  async flush(): Promise<void> {
    if (this.pending.size === 0 && this.inFlight.size === 0) return;
    if (!this.idle) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.idle = { promise, resolve };
    }
    await this.idle.promise;
  }

  private pump(): void {
    while (this.running < this.concurrency && this.pending.size > 0) {
      const batch: [LoginId, Pending][] = [];
      for (const [id, job] of this.pending) {
        if (this.inFlight.has(id)) continue;
        batch.push([id as LoginId, job]);
        if (batch.length >= this.batchSize) break;
      }
      if (batch.length === 0) break;
      for (const [id, job] of batch) {
        this.pending.delete(id);
        this.inFlight.set(id, job);
      }
      this.running++;
      void this.run(batch).finally(() => {
        this.running--;
        for (const [id, job] of batch) {
          this.inFlight.delete(id);
          for (const resolve of job.done) resolve();
        }
        this.pump();
        if (this.pending.size === 0 && this.inFlight.size === 0 && this.idle) {
          this.idle.resolve();
          this.idle = undefined;
        }
      });
    }
  }

  private async run(batch: [LoginId, Pending][]): Promise<void> {
    const live = batch.filter(([, job]) => job.stillOwner());
    if (live.length === 0) return;
    try {
      if (live.length === 1) await this.logins.setState(live[0]![0], live[0]![1].state);
      else
        await this.db.withTransaction(async (tx) => {
          for (const [id, job] of live) await this.logins.setState(id, job.state, tx);
        });
    } catch (err) {
      // The in-memory state stays right; the next change writes again. States carry no secrets.
      this.log.warn({ err, count: live.length }, 'bridge states not persisted');
      return;
    }
    for (const [loginId, job] of live) {
      const message: BridgeStateMessage = { bridgeId: this.bridgeId, loginId, userMxid: job.userMxid, state: job.state };
      await this.pubsub.publish(bridgeStateTopic(this.bridgeId), message).catch(() => {});
    }
  }
}
