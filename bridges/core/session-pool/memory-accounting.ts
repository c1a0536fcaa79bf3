import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { BRIDGE_STATE_EVENTS, type BridgeStateEvent } from '../network/bridge-state.js';
import type { MemoryMeter } from '../network/login-context.js';

/**
 * The MemoryMeter of one session: every bounded cache or buffer of the login registers a size
 * function, and the pool sums them when metrics are scraped. The entry list is allocated on the
 * first registration, so an idle login with nothing registered costs one small object.
 */
export class SessionMemory implements MemoryMeter {
  private entries: { name: string; bytes: () => number }[] | undefined;

  register(name: string, bytes: () => number): () => void {
    const entry = { name, bytes };
    (this.entries ??= []).push(entry);
    return () => {
      const list = this.entries;
      const i = list ? list.indexOf(entry) : -1;
      if (i >= 0) list!.splice(i, 1);
    };
  }

  /** The sum of every registered size; a throwing or nonsense reporter counts as 0 rather than breaking a scrape. */
  bytes(): number {
    let total = 0;
    for (const e of this.entries ?? []) {
      try {
        const n = e.bytes();
        if (Number.isFinite(n) && n > 0) total += n;
      } catch {
        /* a reporter of a session being torn down */
      }
    }
    return total;
  }

  /** Per-name sizes, for debugging one login. */
  breakdown(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const e of this.entries ?? []) out[e.name] = (out[e.name] ?? 0) + e.bytes();
    return out;
  }

  clear(): void {
    this.entries = undefined;
  }
}

/** What a pool exposes to the scrape-time collectors. */
export interface PoolMetricsSource {
  readonly bridgeId: string;
  /** Sessions of this worker by bridge state. */
  countByState(): Map<BridgeStateEvent, number>;
  /** Accounted bytes of each session of this worker. */
  accountedBytes(): Iterable<number>;
}

interface Shared {
  sources: Set<PoolMetricsSource>;
  reconnects: Counter<'bridge_id'>;
  takeovers: Counter<'bridge_id'>;
  losses: Counter<'bridge_id'>;
  connectSeconds: Histogram<'bridge_id'>;
}

// Metrics are registered once per registry and shared by every pool on it (one per bridge in a
// single process), since a registry refuses a second metric of the same name.
const perRegistry = new WeakMap<Registry, Shared>();

function register(registry: Registry): Shared {
  const existing = perRegistry.get(registry);
  if (existing) return existing;
  const sources = new Set<PoolMetricsSource>();
  const registers = [registry];
  new Gauge({
    name: 'bridge_sessions',
    help: 'Sessions (logins) run by this worker, by bridge state',
    labelNames: ['bridge_id', 'state'],
    registers,
    collect() {
      this.reset();
      for (const src of sources) {
        const counts = src.countByState();
        for (const state of BRIDGE_STATE_EVENTS) this.set({ bridge_id: src.bridgeId, state }, counts.get(state) ?? 0);
      }
    },
  });
  // Heap and RSS are the process's, labelled per bridge so a dashboard filtered by bridge finds them.
  new Gauge({
    name: 'bridge_worker_heap_bytes',
    help: 'V8 heap used by this bridge worker process',
    labelNames: ['bridge_id'],
    registers,
    collect() {
      const { heapUsed } = process.memoryUsage();
      for (const src of sources) this.set({ bridge_id: src.bridgeId }, heapUsed);
    },
  });
  new Gauge({
    name: 'bridge_worker_rss_bytes',
    help: 'Resident set size of this bridge worker process',
    labelNames: ['bridge_id'],
    registers,
    collect() {
      const rss = process.memoryUsage.rss();
      for (const src of sources) this.set({ bridge_id: src.bridgeId }, rss);
    },
  });
  // A snapshot distribution: reset and re-observed on every scrape, so it shows the sessions as
  // they are now rather than accumulating every past scrape.
  new Histogram({
    name: 'bridge_session_accounted_bytes',
    help: 'Bytes accounted by the bounded caches and buffers of each session (MemoryMeter), at scrape time',
    labelNames: ['bridge_id'],
    buckets: [0, 1024, 4096, 16_384, 65_536, 262_144, 1_048_576, 4_194_304, 16_777_216],
    registers,
    collect() {
      this.reset();
      for (const src of sources) for (const bytes of src.accountedBytes()) this.observe({ bridge_id: src.bridgeId }, bytes);
    },
  });
  const shared: Shared = {
    sources,
    reconnects: new Counter({
      name: 'bridge_reconnects_total',
      help: 'Reconnect attempts after a transient failure',
      labelNames: ['bridge_id'],
      registers,
    }),
    takeovers: new Counter({
      name: 'bridge_lease_takeovers_total',
      help: 'Login leases taken by the takeover scan: expired (a dead worker) or released (handed over)',
      labelNames: ['bridge_id'],
      registers,
    }),
    losses: new Counter({
      name: 'bridge_lease_losses_total',
      help: 'Login leases lost (renewal refused or overdue): the login was disconnected here',
      labelNames: ['bridge_id'],
      registers,
    }),
    connectSeconds: new Histogram({
      name: 'bridge_connect_duration_seconds',
      help: 'Time of NetworkClient.connect()',
      labelNames: ['bridge_id'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
  };
  perRegistry.set(registry, shared);
  return shared;
}

/** The session pool's metrics; a no-op when no registry is given. */
export class PoolMetrics {
  private readonly shared: Shared | undefined;
  private readonly labels: { bridge_id: string };

  constructor(
    registry: Registry | undefined,
    private readonly source: PoolMetricsSource,
  ) {
    this.shared = registry && register(registry);
    this.shared?.sources.add(source);
    this.labels = { bridge_id: source.bridgeId };
  }

  reconnect(): void {
    this.shared?.reconnects.inc(this.labels);
  }

  takeovers(n: number): void {
    if (n > 0) this.shared?.takeovers.inc(this.labels, n);
  }

  losses(n: number): void {
    if (n > 0) this.shared?.losses.inc(this.labels, n);
  }

  connectDuration(ms: number): void {
    this.shared?.connectSeconds.observe(this.labels, ms / 1000);
  }

  /** Stops reporting this pool's sessions (the metrics stay registered for other pools). */
  detach(): void {
    this.shared?.sources.delete(this.source);
  }
}
