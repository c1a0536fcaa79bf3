import type { Registry } from 'prom-client';
import type { Logger } from '../../../homeserver/runtime/logger.js';
import type { PubSub } from '../../../homeserver/runtime/ports.js';
import type { Db } from '../../../homeserver/storage/db.js';
import {
  RETRYABLE_STATES,
  TERMINAL_STATES,
  type BridgeState,
  type BridgeStateEvent,
  type BridgeStateUpdate,
} from '../network/bridge-state.js';
import type { LoginId } from '../network/ids.js';
import type { LoginContext, MemoryMeter } from '../network/login-context.js';
import type { NetworkClient } from '../network/network-client.js';
import type { NetworkConnector } from '../network/network-connector.js';
import type { UserLoginRecord, UserLoginStore } from '../storage/user-logins.js';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from '../backoff.js';
import { ConnectGate } from './connect-gate.js';
import { LoginLeases, type HeldLease } from './login-lease.js';
import { PoolMetrics } from './memory-accounting.js';
import { Scheduler } from './scheduler.js';
import { Session } from './session.js';
import { StateWriter } from './state-writer.js';
import { LeaseKeeper, type LeaseKeeperHost } from './lease-keeper.js';

/** The parts of a LoginContext the pool owns; the portal engine adds emit, keys and metadata. */
export interface LoginContextParts {
  setState(state: BridgeStateUpdate): void;
  memory: MemoryMeter;
  /** Aborted when the lease is lost, the login removed or the pool stopped. */
  signal: AbortSignal;
  /** The fencing token of the lease this context runs under (pass it to the crypto store). */
  fencingToken: () => number;
}

export interface SessionPoolOptions {
  db: Db;
  pubsub: PubSub;
  log: Logger;
  bridgeId: string;
  /** Unique per process incarnation (e.g. host + pid + random): a lease belongs to one running process. */
  workerId: string;
  /**
   * This worker's address on the login relay (ProcessRelay's worker token), stored on every lease
   * it takes so other workers can forward a login's provisioning calls here (leaseHolderToken).
   */
  workerToken?: string;
  connector: NetworkConnector;
  logins: UserLoginStore;
  contextFor(login: UserLoginRecord, parts: LoginContextParts): LoginContext;
  /** Default 30,000 ms. */
  leaseTtlMs?: number;
  /** Default a third of the TTL. */
  renewIntervalMs?: number;
  /** Default 50. */
  connectConcurrency?: number;
  /** Each start-up / takeover connect waits a random delay in [0, this). Default 2,000 ms. */
  connectJitterMs?: number;
  backoff?: Partial<BackoffOptions>;
  metrics?: Registry;
  /** Logins read and leased per statement at start-up and per takeover scan. Default 1,000. */
  pageSize?: number;
  /** Aim at a fair share of the logins among the live workers (hand over the excess). Default true. */
  balance?: boolean;
}

export interface AddOptions {
  /**
   * Runs once the lease is held and before the client connects, with the new fencing token:
   * the place to store a completed login's secrets through a fenced key store (a write fenced
   * before the lease exists is refused, and one made after connect() started would race it).
   * If it throws, the lease is released and add() rejects.
   */
  prepare?(fencingToken: number): Promise<void>;
}

export type StateListener = (loginId: LoginId, state: BridgeState, login: UserLoginRecord) => void;

interface ControlMessage {
  op: 'remove' | 'handoff';
  loginId: string;
  logoutRemote?: boolean;
  from: string;
}

/**
 * Owns the live NetworkClient of every login this worker holds a lease for.
 *
 * Concurrency model. Everything runs on the event loop; the shared state is the `sessions` map
 * and each Session's `phase`. The LeaseKeeper's one interval drives the lease watchdog, the
 * batched renewal (one statement for every lease) and the takeover/balance scan, each with at
 * most one run in flight (see lease-keeper.ts). Per-login delays (start-up jitter, reconnect
 * backoff) live in one Scheduler (one Node timer in total), and connects pass a ConnectGate
 * (bounded concurrency). Every await is followed by a check that the Session is still the
 * current one and not closed, because a lease can be lost or a login removed at any await:
 * a closed Session is never connected again, and a connect that finishes after its Session
 * was closed is disconnected at once.
 *
 * Safety (two workers must never run one login): a Session is usable only until its
 * `leaseDeadline`, computed from the time the renewal was *sent* minus a safety margin, so the
 * holder disconnects before Postgres lets anyone else acquire the lease (at `expires_at`, by
 * the database's clock). A renewal that is refused or overdue closes the Session: its signal is
 * aborted and its client disconnected. Writes that outlive that (a frozen process) are refused
 * by the fencing token, which the new holder's acquisition incremented.
 */
export class SessionPool {
  readonly bridgeId: string;
  readonly workerId: string;
  private readonly o: Required<Omit<SessionPoolOptions, 'metrics' | 'backoff' | 'workerToken'>> & { backoff: BackoffOptions };
  private readonly leases: LoginLeases;
  private readonly sessions = new Map<string, Session>();
  private readonly scheduler: Scheduler<Session>;
  private readonly gate: ConnectGate<Session>;
  private readonly writer: StateWriter;
  private readonly keeper: LeaseKeeper;
  private readonly metrics: PoolMetrics;
  private readonly listeners = new Set<StateListener>();
  private unsubscribeControl: (() => Promise<void>) | undefined;
  private started = false;
  private stopping = false;

  constructor(opts: SessionPoolOptions) {
    const ttl = opts.leaseTtlMs ?? 30_000;
    this.o = {
      ...opts,
      leaseTtlMs: ttl,
      renewIntervalMs: opts.renewIntervalMs ?? Math.floor(ttl / 3),
      connectConcurrency: opts.connectConcurrency ?? 50,
      connectJitterMs: opts.connectJitterMs ?? 2_000,
      pageSize: opts.pageSize ?? 1_000,
      balance: opts.balance ?? true,
      backoff: { ...DEFAULT_BACKOFF, ...opts.backoff },
    };
    this.bridgeId = opts.bridgeId;
    this.workerId = opts.workerId;
    this.leases = new LoginLeases(opts.db, opts.bridgeId, opts.workerId, ttl, opts.workerToken ?? null);
    this.scheduler = new Scheduler((s) => this.gate.push(s));
    this.gate = new ConnectGate(this.o.connectConcurrency, (s) => this.connect(s));
    this.writer = new StateWriter(opts.db, opts.logins, opts.pubsub, opts.bridgeId, opts.log);
    this.metrics = new PoolMetrics(opts.metrics, {
      bridgeId: opts.bridgeId,
      countByState: () => this.countByState(),
      accountedBytes: () => [...this.sessions.values()].map((s) => s.memory.bytes()),
    });
    const host: LeaseKeeperHost = {
      sessions: this.sessions,
      logins: opts.logins,
      lose: (s) => this.lose(s),
      adopt: (login, token, sentAt) => this.adopt(login, token, sentAt),
      giveUp: (s) => this.giveUp(s),
      isStopping: () => this.stopping,
    };
    this.keeper = new LeaseKeeper(host, this.leases, opts.pubsub, this.metrics, opts.log, this.o);
  }

  // ---- lifecycle ----------------------------------------------------------------------------

  /**
   * Loads every login of the bridge (paged), leases the free ones up to this worker's fair
   * share, and schedules their connects (jittered, bounded). Resolves once the leases are taken;
   * connects continue in the background (watch states() / onStateChange).
   */
  async start(): Promise<void> {
    if (this.started) throw new Error('session pool already started');
    this.started = true;
    this.unsubscribeControl = await this.o.pubsub.subscribe(`bridge.pool.${this.bridgeId}`, (m) => this.onControl(m as ControlMessage));
    await this.keeper.start();

    const share = await this.keeper.fairShare();
    let after = '';
    for (;;) {
      if (this.stopping) return;
      const page = await this.o.logins.listPage(after, this.o.pageSize);
      if (page.length === 0) break;
      after = page[page.length - 1]!.loginId;
      const room = share - this.sessions.size;
      const wanted = page
        .filter((l) => !TERMINAL_STATES.has(l.state.stateEvent) && !this.sessions.has(l.loginId))
        .slice(0, Math.max(0, room));
      if (wanted.length === 0) {
        if (room <= 0) break;
        continue;
      }
      const sentAt = performance.now();
      const got = await this.leases.acquireMany(wanted.map((l) => l.loginId));
      for (const login of wanted) {
        const token = got.get(login.loginId);
        if (token !== undefined) this.adopt(login, token, sentAt);
      }
      if (page.length < this.o.pageSize) break;
    }
    this.o.log.info({ bridgeId: this.bridgeId, workerId: this.workerId, logins: this.sessions.size }, 'session pool started');
  }

  /** Disconnects every client and releases every lease (so other workers can take over at once). */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    await this.keeper.stop();
    this.scheduler.stop();
    this.gate.clear();
    await this.unsubscribeControl?.().catch(() => {});
    const all = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of all) this.close(s);
    await Promise.allSettled(all.map((s) => s.client?.disconnect()));
    await this.writer.flush();
    for (const s of all) s.leaseHeld = false;
    await this.leases
      .releaseAll(all.map(toHeld))
      .catch((err) => this.o.log.warn({ err }, 'releasing leases failed; they expire by themselves'));
    this.metrics.detach();
  }

  // ---- public queries -----------------------------------------------------------------------

  client(loginId: string): NetworkClient | undefined {
    return this.sessions.get(loginId)?.client;
  }

  /**
   * The worker token (SessionPoolOptions.workerToken) of the worker holding an unexpired lease on
   * the login, whichever worker that is; undefined when none does (or it stored no token).
   */
  leaseHolderToken(loginId: string): Promise<string | undefined> {
    return this.leases.holderWorkerToken(loginId);
  }

  /** The fencing token this worker holds for the login, if it holds it. */
  fencingToken(loginId: string): number | undefined {
    return this.sessions.get(loginId)?.token;
  }

  /** The logins this worker runs, with their current bridge state. */
  states(): Map<LoginId, BridgeState> {
    const out = new Map<LoginId, BridgeState>();
    for (const s of this.sessions.values()) out.set(s.loginId, s.state);
    return out;
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Called on every state change of a login of this worker (after coalescing). Returns the unsubscribe function. */
  onStateChange(listener: StateListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Sum of the MemoryMeter reports of one login (for tests and debugging). */
  accountedBytes(loginId: string): number | undefined {
    return this.sessions.get(loginId)?.memory.bytes();
  }

  // ---- adding and removing logins ---------------------------------------------------------

  /**
   * Runs a just-completed (or re-completed) login here. A login this worker already runs is
   * restarted with the fresh record (new credentials); one held by another worker is asked over
   * pub/sub to hand over, then taken once released (or expired). Resolves true once held here.
   */
  async add(loginId: LoginId, opts: AddOptions = {}): Promise<boolean> {
    if (this.stopping) return false;
    const existing = this.sessions.get(loginId);
    if (existing) return this.restart(existing, opts);
    const deadline = performance.now() + this.o.leaseTtlMs + this.keeper.safetyMs;
    let asked = false;
    for (;;) {
      const login = await this.o.logins.get(loginId);
      if (!login || this.stopping) return false;
      if (this.sessions.has(loginId)) return true; // the scan took it meanwhile
      const sentAt = performance.now();
      const token = await this.leases.acquire(loginId, { orOwn: true });
      if (token !== undefined) return this.adoptPrepared(login, token, sentAt, opts);
      if (!asked) {
        asked = true;
        await this.publishControl({ op: 'handoff', loginId, from: this.workerId });
      }
      if (performance.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, this.keeper.checkMs));
    }
  }

  /**
   * Stops running a login (logout): closes it here, logging out on the network first when
   * `logoutRemote`. A login held by another worker is removed there (pub/sub). Deleting the
   * login's row is the caller's job, after this resolves; the lease is left to expire rather
   * than released, so no worker takes the login up before the row is gone.
   */
  async remove(loginId: LoginId, opts: { logoutRemote: boolean }): Promise<void> {
    const s = this.sessions.get(loginId);
    if (s) return this.removeLocal(s, opts.logoutRemote);
    // Not ours: if nobody holds it and the network must be told, do it here under a lease.
    if (opts.logoutRemote) {
      const login = await this.o.logins.get(loginId);
      const sentAt = performance.now();
      const token = login && (await this.leases.acquire(loginId, { orOwn: true }));
      if (login && token !== undefined) {
        const session = new Session(login, token, this.keeper.deadlineFrom(sentAt));
        return this.removeLocal(session, true);
      }
    }
    await this.publishControl({ op: 'remove', loginId, logoutRemote: opts.logoutRemote, from: this.workerId });
  }

  // ---- session life ---------------------------------------------------------------------------

  /** Re-runs a login this worker holds with its fresh record, under a new token and without ever freeing the lease. */
  private async restart(old: Session, opts: AddOptions): Promise<boolean> {
    this.sessions.delete(old.loginId);
    this.close(old);
    await old.client?.disconnect().catch(() => {});
    await this.writer.whenWritten(old.loginId);
    old.leaseHeld = false;
    const sentAt = performance.now();
    const [login, token] = await Promise.all([this.o.logins.get(old.loginId), this.leases.reacquire(old.loginId, old.token)]);
    if (token === undefined) return false;
    if (!login || this.stopping) {
      await this.leases.release(old.loginId, token).catch(() => {});
      return false;
    }
    return this.adoptPrepared(login, token, sentAt, opts);
  }

  /** add()'s last step: runs `prepare` under the new lease, then connects at once (no jitter: a user is waiting). */
  private async adoptPrepared(login: UserLoginRecord, token: number, sentAt: number, opts: AddOptions): Promise<boolean> {
    if (opts.prepare) {
      try {
        await opts.prepare(token);
      } catch (err) {
        await this.leases.release(login.loginId, token).catch(() => {});
        throw err;
      }
    }
    this.adopt(login, token, sentAt, 0);
    return true;
  }

  /** Starts running a login whose lease was just acquired: schedules its connect after a jitter delay. */
  private adopt(login: UserLoginRecord, token: number, sentAt: number, jitterMs = this.o.connectJitterMs): void {
    if (this.stopping) {
      void this.leases.release(login.loginId, token).catch(() => {});
      return;
    }
    // A session adopted by a concurrent scan lost to this newer token: end it first.
    const old = this.sessions.get(login.loginId);
    if (old) this.lose(old);
    const s = new Session(login, token, this.keeper.deadlineFrom(sentAt));
    this.sessions.set(login.loginId, s);
    // The stored state is the previous holder's; until the connect runs, this login is connecting.
    this.report(s, { stateEvent: 'CONNECTING' });
    this.scheduler.schedule(s, Date.now() + Math.floor(Math.random() * jitterMs));
  }

  /** The ConnectGate's task: one connect attempt of one session. */
  private async connect(s: Session): Promise<void> {
    if (s.phase !== 'pending' || this.sessions.get(s.loginId) !== s) return;
    s.phase = 'connecting';
    this.report(s, { stateEvent: 'CONNECTING' });
    try {
      const client = this.clientOf(s);
      if (s.connectedOnce) await client.disconnect().catch(() => {});
      s.connectedOnce = true;
      const t0 = performance.now();
      await client.connect(s.abort.signal);
      this.metrics.connectDuration(performance.now() - t0);
    } catch (err) {
      // The contract says connect() reports failures as states; a throw is a connector bug or an
      // unexpected error. The message is generic: errors may carry request details.
      if (!s.closed) {
        this.o.log.warn({ err, loginId: s.loginId }, 'connect() threw');
        this.synthesize(s, { stateEvent: 'UNKNOWN_ERROR', error: 'connect-failed', message: 'Connecting to the network failed' });
      }
    }
    if (s.closed) {
      // Lost or removed while connecting: make sure the connection it may have opened is gone.
      await s.client?.disconnect().catch(() => {});
      return;
    }
    s.phase = 'running';
    if (s.state.stateEvent === 'CONNECTING') this.synthesize(s, { stateEvent: 'CONNECTED' });
    else if (RETRYABLE_STATES.has(s.state.stateEvent)) this.retryLater(s);
    else if (TERMINAL_STATES.has(s.state.stateEvent)) await this.endTerminal(s);
  }

  /**
   * A state the pool infers for a client that did not report one (connect() returned silently,
   * or threw). It goes through the context's setState, like the client's own reports, so the
   * portal engine's hooks on it (catch-up on CONNECTED) run too.
   */
  private synthesize(s: Session, update: BridgeStateUpdate): void {
    if (s.context) s.context.setState(update);
    else this.report(s, update);
  }

  /** The session's client, built on first use: one context and one client per session, even if loadLogin throws and is retried. */
  private clientOf(s: Session): NetworkClient {
    s.context ??= this.o.contextFor(s.login, this.partsFor(s));
    s.client ??= this.o.connector.loadLogin(s.context);
    return s.client;
  }

  /**
   * Bound functions rather than arrow closures: under tsx (esbuild keepNames, how the platform
   * runs) every named closure gets its `name` redefined, which gives it a property store of a
   * few hundred bytes; at 5,000 logins that is measurable (bench:sessions).
   */
  private partsFor(s: Session): LoginContextParts {
    return {
      setState: this.report.bind(this, s),
      memory: s.memory,
      signal: s.abort.signal,
      fencingToken: s.fencingToken.bind(s),
    };
  }

  /** A state reported by the client (or the pool): coalesce, persist, publish, and react. */
  private report(s: Session, update: BridgeStateUpdate): void {
    if (s.closed || s.sameState(update)) return;
    const state: BridgeState = { ...update, timestamp: Math.floor(Date.now() / 1000) };
    s.state = state;
    void this.writer.write(s.loginId, s.login.userMxid, state, () => s.leaseHeld);
    for (const l of this.listeners) {
      try {
        l(s.loginId, state, s.login);
      } catch (err) {
        this.o.log.warn({ err }, 'state listener threw');
      }
    }
    if (update.stateEvent === 'CONNECTED') {
      s.connectedAt = Date.now();
      // The client reconnected by itself while a retry was pending: the retry is moot.
      if (s.phase === 'pending' && s.connectedOnce) {
        this.scheduler.cancel(s);
        s.phase = 'running';
      }
    }
    // While connect() runs, its end decides (see connect()); afterwards the client's reports do.
    if (s.phase !== 'running') return;
    if (RETRYABLE_STATES.has(update.stateEvent)) this.retryLater(s);
    else if (TERMINAL_STATES.has(update.stateEvent)) void this.endTerminal(s);
  }

  /** Reconnects after an exponential, jittered delay. A connection that stayed up for the backoff cap forgives earlier failures. */
  private retryLater(s: Session): void {
    if (s.connectedAt > 0 && Date.now() - s.connectedAt > this.o.backoff.maxMs) s.attempt = 0;
    const delay = backoffDelay(this.o.backoff, s.attempt++);
    s.phase = 'pending';
    this.metrics.reconnect();
    this.scheduler.schedule(s, Date.now() + delay);
  }

  /**
   * BAD_CREDENTIALS / LOGGED_OUT: the session ends until the user logs in again. The state must
   * be in Postgres before the lease is released: takeover scans skip terminal logins, so this
   * order is what keeps another worker from picking the dead login up and retrying it.
   */
  private async endTerminal(s: Session): Promise<void> {
    if (this.sessions.get(s.loginId) === s) this.sessions.delete(s.loginId);
    this.close(s);
    await Promise.allSettled([this.writer.whenWritten(s.loginId), s.client?.disconnect()]);
    await this.release(s);
  }

  /** Releases the lease after the login's last state write landed (so it cannot overwrite the next holder's). */
  private async release(s: Session): Promise<void> {
    await this.writer.whenWritten(s.loginId);
    s.leaseHeld = false;
    await this.leases.release(s.loginId, s.token).catch(() => {});
  }

  private async removeLocal(s: Session, logoutRemote: boolean): Promise<void> {
    if (this.sessions.get(s.loginId) === s) this.sessions.delete(s.loginId);
    this.close(s);
    try {
      if (logoutRemote) {
        await this.clientOf(s).logoutRemote();
      } else {
        await s.client?.disconnect();
      }
    } catch (err) {
      this.o.log.warn({ err, loginId: s.loginId }, 'logout/disconnect failed');
    } finally {
      // The lease is NOT released: it stays ours, unused and unrenewed, until it expires. The
      // caller deletes the login's row meanwhile, so no worker's scan picks the login up in
      // between (which a released lease would allow). add() on this worker can still take it
      // at once (its own lease), e.g. when the user logs in again.
      await this.writer.whenWritten(s.loginId);
      s.leaseHeld = false;
    }
  }

  /** Gives a healthy login up (hand-over to another worker, or a restart): disconnect, then release. */
  private async giveUp(s: Session): Promise<void> {
    if (this.sessions.get(s.loginId) === s) this.sessions.delete(s.loginId);
    this.close(s);
    await s.client?.disconnect().catch(() => {});
    await this.release(s);
  }

  /** The lease is (or may be) gone: stop at once, without writing anything for the login. */
  private lose(s: Session): void {
    if (this.sessions.get(s.loginId) === s) this.sessions.delete(s.loginId);
    s.leaseHeld = false;
    this.close(s);
    this.metrics.losses(1);
    // If the renewal was only late (database trouble), the lease may still be ours: give it back
    // so the login is free for whoever scans first, this worker included.
    void (async () => {
      await s.client?.disconnect().catch(() => {});
      await this.leases.release(s.loginId, s.token).catch(() => {});
    })();
  }

  private close(s: Session): void {
    s.phase = 'closed';
    this.scheduler.cancel(s);
    s.abort.abort();
    s.memory.clear();
  }

  // ---- cross-worker control -----------------------------------------------------------------

  private async publishControl(m: ControlMessage): Promise<void> {
    await this.o.pubsub.publish(`bridge.pool.${this.bridgeId}`, m).catch(() => {});
  }

  private onControl(m: ControlMessage): void {
    if (!m || m.from === this.workerId || this.stopping) return;
    const s = this.sessions.get(m.loginId);
    if (!s) return;
    if (m.op === 'remove') void this.removeLocal(s, m.logoutRemote === true);
    else if (m.op === 'handoff') {
      this.keeper.exclude(m.loginId);
      void this.giveUp(s);
    }
  }

  private countByState(): Map<BridgeStateEvent, number> {
    const counts = new Map<BridgeStateEvent, number>();
    for (const s of this.sessions.values()) counts.set(s.state.stateEvent, (counts.get(s.state.stateEvent) ?? 0) + 1);
    return counts;
  }
}

const toHeld = (s: Session): HeldLease => ({ loginId: s.loginId, token: s.token });
