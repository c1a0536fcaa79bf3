import { LoginError, type CompletedLogin, type LoginFlow, type LoginProcess, type LoginStep } from '../network/login-process.js';
import { NetworkError } from '../network/network-client.js';
import type { NetworkConnector } from '../network/network-connector.js';
import type { UserLoginRecord } from '../storage/user-logins.js';
import { LoginProcessError } from './login-process-error.js';
import { newProcessId, newWorkerToken, workerOfProcess } from './process-id.js';
import type { AnswerableStepType, ProcessStep, StartedProcess } from './process-step.js';
import { Tombstones, type EndReason } from './tombstones.js';

export type { EndReason } from './tombstones.js';

export interface LoginProcessesOptions {
  connector: Pick<NetworkConnector, 'loginFlows' | 'createLogin'>;
  /**
   * Called once per finished login, before the `complete` step is returned: persists the login,
   * seals `login.secrets` in the crypto store and hands the login to the session pool. The
   * registry drops its reference to the secrets afterwards. A rejection fails the process.
   */
  onComplete(userMxid: string, login: CompletedLogin): Promise<UserLoginRecord>;
  /** A process with no activity for this long is cancelled and removed. Default 10 minutes. */
  idleTimeoutMs?: number;
  /** Processes one user may run at once (started and not yet ended). Default 5. */
  maxPerUser?: number;
  /** Processes all users together may run at once (each may hold a network connection). Default 1000. */
  maxTotal?: number;
  /**
   * Names this worker in the process ids it mints (see process-id.ts); default a fresh random
   * token. Other workers use it to forward steps here (ProcessRelay).
   */
  workerToken?: string;
  /** Observes every end (metrics, logs, tests). Must not throw. */
  onEnd?(event: { processId: string; userMxid: string; flowId: string; reason: EndReason }): void;
}

interface InFlight {
  type: AnswerableStepType;
  stepId: string;
  promise: Promise<ProcessStep>;
}

interface Running {
  id: string;
  userMxid: string;
  flowId: string;
  process: LoginProcess;
  /** The step the client must answer next (never `complete`: a completed process is removed). */
  step: Exclude<LoginStep, { type: 'complete' }>;
  /** Aborted on cancel/expiry: ends a pending `wait()` in the connector. */
  abort: AbortController;
  timer?: NodeJS.Timeout;
  inFlight?: InFlight;
  ended?: EndReason;
}

const DEFAULT_IDLE_MS = 10 * 60_000;
const DEFAULT_MAX_PER_USER = 5;
const DEFAULT_MAX_TOTAL = 1000;

/**
 * The running login processes of one bridge, in memory (bridgev2's provisioning `logins` map).
 *
 * Lifecycle: start() -> the first step; the client answers the current step by its stepId and
 * type, with submitUserInput() (`user_input`) or wait() (`display_and_wait`), until a `complete`
 * step, which is persisted through `onComplete` and ends the process. cancel(), a non-retryable
 * LoginError, any other connector failure or `idleTimeoutMs` without activity also end it.
 *
 * Concurrency: one submission runs at a time per process. A second wait() for the same
 * display_and_wait step joins the running one (a client that reconnected, or two tabs, get the
 * same next step); anything else while a submission runs is refused (`busy`), so the connector's
 * process never sees two calls at once.
 *
 * Ownership: a process belongs to the Matrix user who started it; every call names the user and
 * another user's process id behaves exactly like an unknown one (`not_found`).
 *
 * Cluster: the processes live in the memory of the worker that started them (they hold live
 * network connections, e.g. a Telegram auth-key exchange or a WhatsApp pairing socket). Moving a
 * process between workers would need connectors able to serialise a half-finished login, which
 * neither Telegram's nor WhatsApp's login can do; so instead each process id names its worker
 * (`workerToken`), and a worker receiving a call for another worker's process forwards it there
 * (`remoteWorkerOf`, ProcessRelay). Finished logins are in Postgres and work anywhere.
 */
export class LoginProcesses {
  private readonly running = new Map<string, Running>();
  private readonly tombstones: Tombstones;
  /** Starts still inside connector.start(), counted against the per-user limit. */
  private readonly starting = new Map<string, number>();
  private readonly idleMs: number;
  private readonly maxPerUser: number;
  private readonly maxTotal: number;
  private startingTotal = 0;
  private closed = false;
  /** The worker token in every process id minted here. */
  readonly workerToken: string;

  constructor(private readonly opts: LoginProcessesOptions) {
    this.idleMs = opts.idleTimeoutMs ?? DEFAULT_IDLE_MS;
    this.maxPerUser = opts.maxPerUser ?? DEFAULT_MAX_PER_USER;
    this.maxTotal = opts.maxTotal ?? DEFAULT_MAX_TOTAL;
    this.tombstones = new Tombstones(Math.max(this.idleMs, 60_000));
    this.workerToken = opts.workerToken ?? newWorkerToken();
  }

  /** How long a process may sit idle; also bounds how long one step can run (it expires then). */
  get idleTimeoutMs(): number {
    return this.idleMs;
  }

  /**
   * The token of the worker holding this process when it is another worker's; undefined when the
   * process would be here (this worker's id, or an id no worker mints: both are looked up locally
   * and answered `not_found` if unknown).
   */
  remoteWorkerOf(processId: string): string | undefined {
    const worker = workerOfProcess(processId);
    return worker === undefined || worker === this.workerToken ? undefined : worker;
  }

  flows(): LoginFlow[] {
    return this.opts.connector.loginFlows();
  }

  /** Number of running processes (all users). */
  get size(): number {
    return this.running.size;
  }

  countFor(userMxid: string): number {
    let n = this.starting.get(userMxid) ?? 0;
    for (const run of this.running.values()) if (run.userMxid === userMxid) n++;
    return n;
  }

  /**
   * Starts a login with one of the connector's flows. A connector's LoginError from start()
   * propagates unchanged (nothing is registered then).
   */
  async start(userMxid: string, flowId: string): Promise<StartedProcess> {
    if (this.closed) throw new LoginProcessError('ended', 'Login processes are shutting down');
    if (!this.flows().some((f) => f.id === flowId)) throw new LoginProcessError('unknown_flow', 'Invalid login flow ID');
    if (this.countFor(userMxid) >= this.maxPerUser) {
      throw new LoginProcessError(
        'too_many',
        `Too many login processes in progress (at most ${this.maxPerUser}); cancel one or let it expire`,
      );
    }
    if (this.running.size + this.startingTotal >= this.maxTotal) {
      throw new LoginProcessError('too_many', 'Too many login processes in progress on this bridge; try again later');
    }
    this.starting.set(userMxid, (this.starting.get(userMxid) ?? 0) + 1);
    this.startingTotal++;
    let process: LoginProcess | undefined;
    let first: LoginStep;
    try {
      process = this.opts.connector.createLogin(userMxid, flowId);
      first = await process.start();
    } catch (err) {
      safeCancel(process);
      throw err;
    } finally {
      this.startingTotal--;
      const n = (this.starting.get(userMxid) ?? 1) - 1;
      if (n > 0) this.starting.set(userMxid, n);
      else this.starting.delete(userMxid);
    }
    if (this.closed) {
      safeCancel(process);
      throw new LoginProcessError('ended', 'Login processes are shutting down');
    }
    const processId = newProcessId(this.workerToken);
    if (first.type === 'complete') {
      // Some flows finish at once (a token login checked in start()): nothing to keep.
      const login = await this.complete(userMxid, first.complete, () => safeCancel(process));
      this.opts.onEnd?.({ processId, userMxid, flowId, reason: 'completed' });
      return { processId, step: completedView(first, login) };
    }
    const run: Running = { id: processId, userMxid, flowId, process, step: first, abort: new AbortController() };
    this.running.set(processId, run);
    this.touch(run);
    return { processId, step: first };
  }

  /** The step the process waits for; also proves the process exists and is the user's. */
  current(userMxid: string, processId: string): ProcessStep {
    return this.get(userMxid, processId).step;
  }

  /**
   * Answers a `user_input` step. A retryable LoginError (wrong code) rejects and leaves the
   * process on the same step, so the client may submit again; other failures end the process.
   */
  submitUserInput(userMxid: string, processId: string, stepId: string, input: Record<string, string>): Promise<ProcessStep> {
    return this.advance(userMxid, processId, stepId, 'user_input', (run) => {
      if (!run.process.submitUserInput) throw new Error(`connector login process for flow ${run.flowId} has no submitUserInput`);
      return run.process.submitUserInput(input);
    });
  }

  /** Answers a `display_and_wait` step: resolves with the next step (a refreshed code, or complete). */
  wait(userMxid: string, processId: string, stepId: string): Promise<ProcessStep> {
    const run = this.get(userMxid, processId);
    const inFlight = run.inFlight;
    if (inFlight && inFlight.type === 'display_and_wait' && inFlight.stepId === stepId) return inFlight.promise;
    return this.advance(userMxid, processId, stepId, 'display_and_wait', (r) => {
      if (!r.process.wait) throw new Error(`connector login process for flow ${r.flowId} has no wait`);
      return r.process.wait(r.abort.signal);
    });
  }

  /** Cancels and removes the process; a pending wait() rejects with `ended`. */
  cancel(userMxid: string, processId: string): void {
    this.end(this.get(userMxid, processId), 'cancelled', true);
  }

  /** Cancels every process (shutdown). Later calls to start() are refused. */
  close(): void {
    this.closed = true;
    for (const run of [...this.running.values()]) this.end(run, 'cancelled', true);
  }

  /** Looks a process up for its owner; unknown, foreign and ended processes throw. */
  private get(userMxid: string, processId: string): Running {
    const run = this.running.get(processId);
    if (run && run.userMxid === userMxid) return run;
    // A tombstone explains an ended process to its owner only; others learn nothing.
    const dead = run ? undefined : this.tombstones.get(processId);
    if (dead && dead.userMxid === userMxid) {
      if (dead.reason === 'expired') throw new LoginProcessError('expired', 'Login process expired; start a new login');
      throw new LoginProcessError('ended', `Login process already ${dead.reason}; start a new login`);
    }
    throw new LoginProcessError('not_found', 'Login process not found');
  }

  private advance(
    userMxid: string,
    processId: string,
    stepId: string,
    type: AnswerableStepType,
    op: (run: Running) => Promise<LoginStep>,
  ): Promise<ProcessStep> {
    const run = this.get(userMxid, processId);
    if (run.inFlight) throw new LoginProcessError('busy', 'Another submission for this login step is still running');
    if (run.step.stepId !== stepId) throw new LoginProcessError('wrong_step', `Step ID does not match (expected ${run.step.stepId})`);
    if (run.step.type !== type) throw new LoginProcessError('wrong_step', `Step type does not match (expected ${run.step.type})`);
    this.touch(run);
    const promise = this.runStep(run, op).finally(() => {
      run.inFlight = undefined;
    });
    run.inFlight = { type, stepId, promise };
    return promise;
  }

  private async runStep(run: Running, op: (run: Running) => Promise<LoginStep>): Promise<ProcessStep> {
    let next: LoginStep;
    try {
      next = await untilAborted(op(run), run.abort.signal);
    } catch (err) {
      if (run.ended) throw endedError(run.ended);
      // Wrong input or a passing network failure: the same step may be submitted again.
      if ((err instanceof LoginError || err instanceof NetworkError) && err.retryable) {
        this.touch(run);
        throw err;
      }
      this.end(run, 'failed', true);
      throw err;
    }
    // Cancelled or expired while the connector worked: its answer is stale.
    if (run.ended) throw endedError(run.ended);
    if (next.type !== 'complete') {
      run.step = next;
      this.touch(run);
      return next;
    }
    this.end(run, 'completed', false);
    const login = await this.complete(run.userMxid, next.complete, () => safeCancel(run.process));
    return completedView(next, login);
  }

  /** Hands a finished login to onComplete; if that fails the connector's session is let go. */
  private async complete(userMxid: string, done: CompletedLogin, release: () => void): Promise<UserLoginRecord> {
    try {
      return await this.opts.onComplete(userMxid, done);
    } catch (err) {
      release();
      throw err;
    }
  }

  /** Restarts the idle timer: activity is a start, a submission, or a step arriving. */
  private touch(run: Running): void {
    if (run.timer) clearTimeout(run.timer);
    run.timer = setTimeout(() => this.end(run, 'expired', true), this.idleMs);
    // A pending login must not keep a worker alive at shutdown.
    run.timer.unref();
  }

  private end(run: Running, reason: EndReason, cancelConnector: boolean): void {
    if (run.ended) return;
    run.ended = reason;
    if (run.timer) clearTimeout(run.timer);
    this.running.delete(run.id);
    this.tombstones.add(run.id, run.userMxid, reason);
    if (cancelConnector) {
      // Abort first so a pending wait() returns promptly, then let the connector clean up.
      run.abort.abort(new LoginProcessError(reason === 'expired' ? 'expired' : 'ended', `Login process ${reason}`));
      safeCancel(run.process);
    }
    this.opts.onEnd?.({ processId: run.id, userMxid: run.userMxid, flowId: run.flowId, reason });
  }
}

/**
 * Settles with `work`, or rejects as soon as `signal` aborts: a cancelled or expired process ends
 * its pending request even if the connector ignores the signal.
 */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    work.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      work.catch(() => {});
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function endedError(reason: EndReason): LoginProcessError {
  return reason === 'expired'
    ? new LoginProcessError('expired', 'Login process expired; start a new login')
    : new LoginProcessError('ended', `Login process ${reason}`);
}

function completedView(step: Extract<LoginStep, { type: 'complete' }>, login: UserLoginRecord): ProcessStep {
  return { type: 'complete', stepId: step.stepId, instructions: step.instructions, login };
}

/** A connector's cancel() failing must not mask the error being reported. */
function safeCancel(process: LoginProcess | undefined): void {
  try {
    process?.cancel();
  } catch {
    // ignored: the process is being discarded either way
  }
}
