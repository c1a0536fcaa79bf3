import type { Logger } from '../../../homeserver/runtime/logger.js';
import type { PubSub } from '../../../homeserver/runtime/ports.js';
import type { LoginId } from '../network/ids.js';
import type { UserLoginRecord, UserLoginStore } from '../storage/user-logins.js';
import type { HeldLease, LoginLeases } from './login-lease.js';
import type { PoolMetrics } from './memory-accounting.js';
import type { Session } from './session.js';
import { WorkerPresence } from './worker-presence.js';

/** What the keeper needs from the pool it works for. */
export interface LeaseKeeperHost {
  /** The sessions this worker holds, by login id. */
  readonly sessions: ReadonlyMap<string, Session>;
  readonly logins: UserLoginStore;
  /** The lease is (or may be) gone: stop the session at once. */
  lose(s: Session): void;
  /** A lease was taken by the scan: start running the login. */
  adopt(login: UserLoginRecord, token: number, sentAt: number): void;
  /** Hand a healthy login over: disconnect, then release. */
  giveUp(s: Session): Promise<void>;
  isStopping(): boolean;
}

export interface LeaseKeeperOptions {
  bridgeId: string;
  workerId: string;
  leaseTtlMs: number;
  renewIntervalMs: number;
  pageSize: number;
  balance: boolean;
  /** Also bounds how many logins are handed over per scan. */
  connectConcurrency: number;
}

/**
 * The periodic half of the session pool: keeps this worker's leases and its share of the logins.
 *
 * One interval (`tick`, every `checkMs`) drives three jobs, each with at most one run in flight:
 * - the watchdog (synchronous): a session past its `leaseDeadline` is lost. The deadline is set
 *   from the time the renewal was *sent*, minus `safetyMs`, so a holder that cannot renew stops
 *   before Postgres lets anyone else take the lease (at `expires_at`, by the database's clock);
 *   `checkMs` is at most half the margin, so the watchdog never notices too late.
 * - the renewal: ONE statement for every lease of the worker; a lease not renewed was taken
 *   elsewhere and its session is lost.
 * - the scan: take over expired or released leases up to the fair share (logins / live workers),
 *   or hand a bounded batch of the excess over when workers have joined.
 * Presence beats ride on the same tick and stop while Postgres is unreachable, so a partitioned
 * worker drops out of everyone's fair share before its leases expire.
 */
export class LeaseKeeper {
  readonly checkMs: number;
  readonly safetyMs: number;
  private readonly beatMs: number;
  private readonly presence: WorkerPresence;
  private timer: NodeJS.Timeout | undefined;
  private renewing = false;
  private scanning = false;
  private scanSoon = false;
  private lastRenewSent = 0;
  private lastBeat = 0;
  private lastScan = 0;
  /** When a lease statement last succeeded. */
  private healthyAt = 0;
  /** Logins handed to another worker on request, kept out of this worker's scans for a while (login id -> until, ms). */
  private readonly excluded = new Map<string, number>();

  constructor(
    private readonly host: LeaseKeeperHost,
    private readonly leases: LoginLeases,
    pubsub: PubSub,
    private readonly metrics: PoolMetrics,
    private readonly log: Logger,
    private readonly o: LeaseKeeperOptions,
  ) {
    const ttl = o.leaseTtlMs;
    if (o.renewIntervalMs >= ttl / 2) throw new Error('renewIntervalMs must be under half of leaseTtlMs');
    this.checkMs = Math.max(20, Math.min(o.renewIntervalMs, Math.floor(ttl / 10)));
    this.safetyMs = Math.max(Math.floor(ttl / 5), 2 * this.checkMs);
    // Presence beats expire (2.5 beats) before a dead worker's leases do, so by the time its
    // leases can be taken over, the survivors' fair share already counts it out.
    this.beatMs = Math.min(o.renewIntervalMs, Math.floor(ttl / 4));
    this.presence = new WorkerPresence(pubsub, o.bridgeId, o.workerId, Math.floor(this.beatMs * 2.5), () => {
      this.scanSoon = true;
    });
  }

  /** Until when (monotonic ms) a lease acquired or renewed by a statement sent at `sentAt` may be used. */
  deadlineFrom(sentAt: number): number {
    return sentAt + this.o.leaseTtlMs - this.safetyMs;
  }

  async start(): Promise<void> {
    await this.presence.start();
    this.lastBeat = this.healthyAt = this.lastScan = performance.now();
    this.timer = setInterval(() => this.tick(), this.checkMs).unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.presence.stop();
  }

  /** Keeps a login out of this worker's scans for one TTL (it was handed over on request). */
  exclude(loginId: string): void {
    this.excluded.set(loginId, Date.now() + this.o.leaseTtlMs);
  }

  /** How many logins this worker should run. */
  async fairShare(): Promise<number> {
    if (!this.o.balance) return Number.MAX_SAFE_INTEGER;
    const total = await this.leases.countRunnable();
    return Math.ceil(total / this.presence.liveWorkers());
  }

  private tick(): void {
    if (this.host.isStopping()) return;
    const now = performance.now();
    let overdue = 0;
    for (const s of this.host.sessions.values()) {
      if (now < s.leaseDeadline) continue;
      this.host.lose(s);
      overdue++;
    }
    if (overdue > 0) this.log.warn({ bridgeId: this.o.bridgeId, count: overdue }, 'lease renewals overdue: logins disconnected');
    if (!this.renewing && now - this.lastRenewSent >= this.o.renewIntervalMs) void this.renew();
    if (now - this.lastBeat >= this.beatMs && now - this.healthyAt < 2 * this.o.renewIntervalMs) {
      this.lastBeat = now;
      this.presence.beat();
    }
    if (!this.scanning && (this.scanSoon || now - this.lastScan >= this.o.renewIntervalMs)) void this.scan();
  }

  /** One statement renews every lease; the ones not renewed are lost. */
  private async renew(): Promise<void> {
    this.renewing = true;
    const sentAt = performance.now();
    this.lastRenewSent = sentAt;
    const held: HeldLease[] = [];
    for (const s of this.host.sessions.values()) held.push({ loginId: s.loginId, token: s.token });
    try {
      const renewed = await this.leases.renewAll(held);
      if (held.length > 0) this.healthyAt = performance.now();
      const deadline = this.deadlineFrom(sentAt);
      let refused = 0;
      for (const h of held) {
        const s = this.host.sessions.get(h.loginId);
        const current = s !== undefined && s.token === h.token;
        if (renewed.has(h.loginId)) {
          if (current) s.leaseDeadline = deadline;
          // Closed meanwhile but renewed: release what we no longer use.
          else void this.leases.release(h.loginId, h.token).catch(() => {});
        } else if (current) {
          this.host.lose(s);
          refused++;
        }
      }
      if (refused > 0) this.log.warn({ bridgeId: this.o.bridgeId, count: refused }, 'leases taken by another worker: logins disconnected');
    } catch (err) {
      // The watchdog drops the sessions if renewals keep failing until their deadline.
      this.log.warn({ err }, 'lease renewal failed');
    } finally {
      this.renewing = false;
    }
  }

  /**
   * Takes over logins whose lease expired (a dead worker's, or released ones) up to this
   * worker's fair share, and hands over the excess above it when other workers have joined.
   */
  private async scan(): Promise<void> {
    this.scanning = true;
    this.scanSoon = false;
    this.lastScan = performance.now();
    try {
      const share = await this.fairShare();
      this.healthyAt = performance.now();
      if (this.host.isStopping()) return;
      const sessions = this.host.sessions;
      const room = share - sessions.size;
      if (room > 0) {
        const sentAt = performance.now();
        const nowMs = Date.now();
        for (const [id, until] of this.excluded) if (until < nowMs) this.excluded.delete(id);
        const got = await this.leases.takeOver(Math.min(room, this.o.pageSize), [...sessions.keys(), ...this.excluded.keys()]);
        if (got.size > 0) {
          this.metrics.takeovers(got.size);
          this.log.info({ bridgeId: this.o.bridgeId, count: got.size }, 'took over login leases');
        }
        await this.adoptTaken(got, sentAt);
      } else if (this.o.balance) {
        // Hand over gradually (a bounded batch per scan), so a joining worker does not cause a reconnect storm.
        const slack = Math.max(2, Math.ceil(share * 0.02));
        const excess = sessions.size - share;
        if (excess > slack) {
          const batch = Math.min(excess, Math.max(this.o.connectConcurrency, Math.ceil(share / 10)));
          const victims = [...sessions.values()].slice(-batch);
          this.log.info({ bridgeId: this.o.bridgeId, count: victims.length }, 'handing logins over to other workers');
          await Promise.allSettled(victims.map((s) => this.host.giveUp(s)));
        }
      }
    } catch (err) {
      this.log.warn({ err }, 'lease scan failed');
    } finally {
      this.scanning = false;
    }
  }

  private async adoptTaken(got: Map<string, number>, sentAt: number): Promise<void> {
    const ids = [...got.keys()];
    // Bounded parallel reads of the login rows (the database pool is shared with everything else).
    for (let i = 0; i < ids.length; i += 8) {
      const rows = await Promise.all(ids.slice(i, i + 8).map((id) => this.host.logins.get(id as LoginId)));
      rows.forEach((login, j) => {
        const id = ids[i + j]!;
        const token = got.get(id)!;
        if (login && !this.host.sessions.has(id) && !this.host.isStopping()) this.host.adopt(login, token, sentAt);
        else void this.leases.release(id, token).catch(() => {});
      });
    }
  }
}
