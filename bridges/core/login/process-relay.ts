import { randomBytes } from 'node:crypto';
import type { PubSub } from '../../../homeserver/runtime/ports.js';
import { isWorkerToken } from './process-id.js';

/**
 * What the provisioning API needs from a relay (ProvisioningDeps.relay). Payloads are plain JSON
 * and travel through Redis: each side checks what it receives.
 */
export interface LoginRelay {
  /**
   * Sends a request to the worker with this token and resolves with its answer, or undefined
   * when no such worker answers in time (gone, stopping, or never existed). Never rejects.
   */
  forward(workerToken: string, request: unknown): Promise<unknown>;
  /** Sets what answers requests forwarded to this worker; returns the function that removes it. */
  serve(handler: (request: unknown) => Promise<unknown>): () => void;
}

export interface ProcessRelayOptions {
  pubsub: PubSub;
  bridgeId: string;
  /** This worker's token (LoginProcesses.workerToken): the topic other workers forward to. */
  workerToken: string;
  /**
   * Most a forwarded call may take in all. Must exceed the longest step the owner may run (a
   * display_and_wait blocks until the next QR code or the process's idle timeout).
   */
  maxWaitMs: number;
  /** How long the owner has to acknowledge; no acknowledgement means no such worker. Default 2 s. */
  ackTimeoutMs?: number;
  /** How often the owner says it is still working on a request; three missed beats mean it died. Default 3 s. */
  beatMs?: number;
  /** Forwarded calls waiting at once; past that, calls are answered as if no owner answered. Default 1000. */
  maxPending?: number;
  /** Failures nobody awaits (a publish that failed, a handler that threw). */
  onError?(err: unknown, context: string): void;
}

/** A request as it travels: correlation id, the caller's token (where replies go), the payload. */
interface RequestMessage {
  id: string;
  from: string;
  request: unknown;
}

/** ack: received and being worked on; beat: still working; answer: done; gone: will not answer. */
type ReplyMessage = { id: string; kind: 'ack' | 'beat' | 'gone' } | { id: string; kind: 'answer'; answer: unknown };

interface Pending {
  settle(answer: unknown): void;
  /** Restarts the silence timer: the owner must be heard from again within `ms`. */
  expectWithin(ms: number): void;
}

const DEFAULT_ACK_MS = 2_000;
const DEFAULT_BEAT_MS = 3_000;
const DEFAULT_MAX_PENDING = 1000;
/** How long stop() lets answers being computed go out (the owner's processes are closed first). */
const STOP_GRACE_MS = 1_000;

/**
 * Request/reply between the workers of one bridge over the runtime's pub/sub, for provisioning
 * calls that reach a worker other than the one holding the live state they need: a login
 * process's steps (the process id names its worker) and a login's contacts / resolve_identifier /
 * create_dm (its session lease names its worker). Each worker listens on a
 * request topic and a reply topic named by its worker token (`bridge.login.<bridge>.<kind>.<token>`);
 * replies carry the request's correlation id.
 *
 * Pub/sub has no delivery report, so the owner acknowledges at once and then beats while it works:
 * a caller learns within `ackTimeoutMs` that a worker is gone, and within three beats that it died
 * mid-step, instead of waiting out a long step's bound. In one process (memory runtime) every
 * process is local and nothing is forwarded; the relay then only listens.
 */
export class ProcessRelay implements LoginRelay {
  private readonly pending = new Map<string, Pending>();
  private readonly working = new Set<Promise<void>>();
  private handler: ((request: unknown) => Promise<unknown>) | undefined;
  private unsubscribe: (() => Promise<void>)[] = [];
  private running = false;
  private readonly ackMs: number;
  private readonly beatMs: number;
  private readonly maxPending: number;

  constructor(private readonly o: ProcessRelayOptions) {
    this.ackMs = o.ackTimeoutMs ?? DEFAULT_ACK_MS;
    this.beatMs = o.beatMs ?? DEFAULT_BEAT_MS;
    this.maxPending = o.maxPending ?? DEFAULT_MAX_PENDING;
  }

  /** The token other workers forward to (this worker's). */
  get workerToken(): string {
    return this.o.workerToken;
  }

  async start(): Promise<void> {
    const me = this.o.workerToken;
    this.unsubscribe.push(await this.o.pubsub.subscribe(this.topic('requests', me), (m) => this.onRequest(m)));
    this.unsubscribe.push(await this.o.pubsub.subscribe(this.topic('replies', me), (m) => this.onReply(m)));
    this.running = true;
  }

  /** Stops listening; forwards still waiting resolve as unanswered, answers being computed get a moment to go out. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    for (const p of [...this.pending.values()]) p.settle(undefined);
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((r) => (timer = setTimeout(r, STOP_GRACE_MS).unref()));
    await Promise.race([Promise.allSettled([...this.working]), grace]);
    clearTimeout(timer);
    for (const off of this.unsubscribe.splice(0)) await off().catch(() => undefined);
  }

  serve(handler: (request: unknown) => Promise<unknown>): () => void {
    this.handler = handler;
    return () => {
      if (this.handler === handler) this.handler = undefined;
    };
  }

  forward(workerToken: string, request: unknown): Promise<unknown> {
    if (!this.running || this.pending.size >= this.maxPending || !isWorkerToken(workerToken)) return Promise.resolve(undefined);
    const id = randomBytes(12).toString('base64url');
    return new Promise<unknown>((resolve) => {
      let silence: NodeJS.Timeout | undefined;
      const entry: Pending = {
        settle: (answer) => {
          if (this.pending.get(id) !== entry) return;
          this.pending.delete(id);
          clearTimeout(silence);
          clearTimeout(cap);
          resolve(answer);
        },
        expectWithin: (ms) => {
          clearTimeout(silence);
          silence = setTimeout(() => entry.settle(undefined), ms);
        },
      };
      this.pending.set(id, entry);
      const cap = setTimeout(() => entry.settle(undefined), this.o.maxWaitMs);
      entry.expectWithin(this.ackMs);
      const message: RequestMessage = { id, from: this.o.workerToken, request };
      this.o.pubsub.publish(this.topic('requests', workerToken), message).catch((err) => {
        this.o.onError?.(err, 'login relay: publishing a request');
        entry.settle(undefined);
      });
    });
  }

  private onReply(raw: unknown): void {
    const m = raw as Partial<ReplyMessage> | null;
    if (!m || typeof m.id !== 'string') return;
    const entry = this.pending.get(m.id);
    if (!entry) return; // answered, timed out or never ours
    if (m.kind === 'ack' || m.kind === 'beat') entry.expectWithin(this.beatMs * 3);
    else if (m.kind === 'answer') entry.settle((m as { answer?: unknown }).answer);
    else if (m.kind === 'gone') entry.settle(undefined);
  }

  private onRequest(raw: unknown): void {
    const m = raw as Partial<RequestMessage> | null;
    if (!m || typeof m.id !== 'string' || typeof m.from !== 'string' || !isWorkerToken(m.from)) return;
    const { id, from } = m;
    const reply = (message: ReplyMessage) =>
      this.o.pubsub.publish(this.topic('replies', from), message).catch((err) => this.o.onError?.(err, 'login relay: publishing a reply'));
    const handler = this.handler;
    if (!this.running || !handler) {
      void reply({ id, kind: 'gone' });
      return;
    }
    void reply({ id, kind: 'ack' });
    const beat = setInterval(() => void reply({ id, kind: 'beat' }), this.beatMs).unref();
    const work = (async () => {
      try {
        const answer = await handler(m.request);
        await reply({ id, kind: 'answer', answer });
      } catch (err) {
        this.o.onError?.(err, 'login relay: handling a forwarded request');
        await reply({ id, kind: 'gone' });
      } finally {
        clearInterval(beat);
      }
    })();
    this.working.add(work);
    void work.finally(() => this.working.delete(work));
  }

  private topic(kind: 'requests' | 'replies', workerToken: string): string {
    return `bridge.login.${this.o.bridgeId}.${kind}.${workerToken}`;
  }
}
