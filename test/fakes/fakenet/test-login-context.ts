/**
 * A hand-made LoginContext for tests that drive a NetworkClient without the bridge core: it keeps
 * what the client emitted and reported, and lets a test await the next matching one (no timers).
 *
 *   const t = testLoginContext({ loginId: makeLoginId(bob.id) });
 *   await saveLoginSecrets(t.ctx.keys, complete.secrets);
 *   const client = connector.loadLogin(t.ctx);
 *   await client.connect(t.ctx.signal);
 *   const ev = await t.nextEvent((e) => e.type === 'message');
 */
import type { BridgeStateUpdate } from '../../../bridges/core/network/bridge-state.js';
import type { LoginId } from '../../../bridges/core/network/ids.js';
import type { LoginContext, LoginKeyStore, MemoryMeter } from '../../../bridges/core/network/login-context.js';
import type { RemoteEvent } from '../../../bridges/core/network/remote-event.js';

/** An in-memory LoginKeyStore (the real one is bridges/core/crypto-store). */
export class MemoryKeyStore implements LoginKeyStore {
  readonly data = new Map<string, Uint8Array>();

  async get(namespace: string, keyId: string) {
    return this.data.get(`${namespace}\n${keyId}`);
  }
  async getMany(namespace: string, keyIds: string[]) {
    const out = new Map<string, Uint8Array>();
    for (const k of keyIds) {
      const v = this.data.get(`${namespace}\n${k}`);
      if (v) out.set(k, v);
    }
    return out;
  }
  async set(namespace: string, keyId: string, value: Uint8Array) {
    this.data.set(`${namespace}\n${keyId}`, Uint8Array.from(value));
  }
  async setMany(entries: { namespace: string; keyId: string; value: Uint8Array | null }[]) {
    for (const e of entries) {
      if (e.value) await this.set(e.namespace, e.keyId, e.value);
      else await this.delete(e.namespace, e.keyId);
    }
  }
  async delete(namespace: string, keyId: string) {
    this.data.delete(`${namespace}\n${keyId}`);
  }
  async list(namespace: string) {
    return [...this.data.keys()].filter((k) => k.startsWith(`${namespace}\n`)).map((k) => k.slice(namespace.length + 1));
  }
}

type Waiter<T> = { match: (x: T) => boolean; resolve: (x: T) => void };

/** Records items and serves "the next one matching", counting from where the previous wait ended. */
class Recorder<T> {
  readonly items: T[] = [];
  private cursor = 0;
  private waiters: Waiter<T>[] = [];

  add(x: T) {
    this.items.push(x);
    for (const w of [...this.waiters]) {
      if (w.match(x)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        this.cursor = this.items.length;
        w.resolve(x);
      }
    }
  }

  next(match: (x: T) => boolean = () => true): Promise<T> {
    for (let i = this.cursor; i < this.items.length; i++) {
      const x = this.items[i]!;
      if (match(x)) {
        this.cursor = i + 1;
        return Promise.resolve(x);
      }
    }
    return new Promise((resolve) => this.waiters.push({ match, resolve }));
  }
}

export interface TestLoginContext {
  ctx: LoginContext;
  keys: MemoryKeyStore;
  /** Everything emitted, in order. */
  events: RemoteEvent[];
  /** Every state reported, in order. */
  states: BridgeStateUpdate[];
  /** The next emitted event (after those already consumed by nextEvent) matching `match`. */
  nextEvent<T extends RemoteEvent = RemoteEvent>(match?: (e: RemoteEvent) => boolean): Promise<T>;
  nextState(match?: (s: BridgeStateUpdate) => boolean): Promise<BridgeStateUpdate>;
  /** Registered memory meters by name. */
  meters: Map<string, () => number>;
  /** Aborts ctx.signal (as a lost lease would). */
  abort(): void;
}

export function testLoginContext(opts: {
  loginId: LoginId;
  userMxid?: string;
  bridgeId?: string;
  keys?: MemoryKeyStore;
  /** The login's stored metadata (e.g. the `pts` a previous client saved). */
  metadata?: Record<string, unknown>;
}): TestLoginContext {
  const events = new Recorder<RemoteEvent>();
  const states = new Recorder<BridgeStateUpdate>();
  const controller = new AbortController();
  const keys = opts.keys ?? new MemoryKeyStore();
  const meters = new Map<string, () => number>();
  const memory: MemoryMeter = {
    register(name, bytes) {
      meters.set(name, bytes);
      return () => meters.delete(name);
    },
  };
  let metadata: Record<string, unknown> = { ...opts.metadata };
  const ctx: LoginContext = {
    bridgeId: opts.bridgeId ?? 'fakenet',
    loginId: opts.loginId,
    userMxid: opts.userMxid ?? '@alice:test',
    get metadata() {
      return metadata;
    },
    async saveMetadata(m) {
      metadata = m;
    },
    // Recording an event is all this "core" does with it, so it counts as applied at once.
    emit: (e, onApplied) => {
      events.add(e);
      onApplied?.(true);
    },
    setState: (s) => states.add(s),
    keys,
    memory,
    signal: controller.signal,
  };
  return {
    ctx,
    keys,
    events: events.items,
    states: states.items,
    nextEvent: <T extends RemoteEvent>(match?: (e: RemoteEvent) => boolean) => events.next(match) as Promise<T>,
    nextState: (match) => states.next(match),
    meters,
    abort: () => controller.abort(),
  };
}
