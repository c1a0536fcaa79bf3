import { Counter, Gauge, type Registry } from 'prom-client';

/** What one bridge in this process reports when its queue depths are scraped. */
export interface QueueDepthSource {
  /** Events waiting in this worker's portal queues (remote events and sends, all portals). */
  portalQueued(): number;
  /** Matrix events accepted for the network and not yet sent or failed (this worker's view). */
  outboxPending(): number;
}

type Direction = 'to_network' | 'to_matrix';

interface Shared {
  remoteEvents: Counter<'bridge_id' | 'type'>;
  matrixEvents: Counter<'bridge_id' | 'type'>;
  outboxResults: Counter<'bridge_id' | 'result'>;
  deliveryFailures: Counter<'bridge_id' | 'direction' | 'code'>;
  sources: Map<string, QueueDepthSource>;
}

/** One set of metric objects per registry: several Bridges in a process (tests, a worker running two networks) share it, labelled by bridge_id. */
const shared = new WeakMap<Registry, Shared>();

function sharedFor(registry: Registry): Shared {
  let s = shared.get(registry);
  if (s) return s;
  const sources = new Map<string, QueueDepthSource>();
  s = {
    sources,
    remoteEvents: new Counter({
      name: 'bridge_remote_events_total',
      help: 'Remote (network) events queued on portals, by RemoteEvent type.',
      labelNames: ['bridge_id', 'type'],
      registers: [registry],
    }),
    matrixEvents: new Counter({
      name: 'bridge_matrix_events_total',
      help: 'Matrix events from portal rooms accepted for the network (outbox sends, m.receipt, m.typing), by event type.',
      labelNames: ['bridge_id', 'type'],
      registers: [registry],
    }),
    outboxResults: new Counter({
      name: 'bridge_outbox_sends_total',
      help: 'Outbox send attempts by result (sent, retry, failed).',
      labelNames: ['bridge_id', 'result'],
      registers: [registry],
    }),
    deliveryFailures: new Counter({
      name: 'bridge_delivery_failures_total',
      help: 'Deliveries that finally failed, by direction and error code (Matrix errcode, HTTP_<status>, system or network code).',
      labelNames: ['bridge_id', 'direction', 'code'],
      registers: [registry],
    }),
  };
  new Gauge({
    name: 'bridge_queue_depth',
    help: "Items waiting in this worker's queues: portal (tasks not yet started, all portals), outbox (sends queued or running).",
    labelNames: ['bridge_id', 'queue'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [bridgeId, src] of sources) {
        this.set(
          { bridge_id: bridgeId, queue: 'portal' },
          safe(() => src.portalQueued()),
        );
        this.set(
          { bridge_id: bridgeId, queue: 'outbox' },
          safe(() => src.outboxPending()),
        );
      }
    },
  });
  shared.set(registry, s);
  return s;
}

function safe(read: () => number): number {
  try {
    const n = read();
    return Number.isFinite(n) ? n : 0;
  } catch {
    return 0;
  }
}

/**
 * Per-bridge activity metrics for operators: event rates in both directions, outbox results,
 * final delivery failures and queue depths. Without a registry every method is a no-op, so the
 * portal engine calls them unconditionally.
 */
export class BridgeMetrics {
  private readonly s?: Shared;

  constructor(
    registry: Registry | undefined,
    readonly bridgeId: string,
  ) {
    if (registry) this.s = sharedFor(registry);
  }

  remoteEvent(type: string): void {
    this.s?.remoteEvents.inc({ bridge_id: this.bridgeId, type });
  }

  matrixEvent(type: string): void {
    this.s?.matrixEvents.inc({ bridge_id: this.bridgeId, type });
  }

  outboxResult(result: 'sent' | 'retry' | 'failed'): void {
    this.s?.outboxResults.inc({ bridge_id: this.bridgeId, result });
  }

  deliveryFailure(direction: Direction, code: string): void {
    this.s?.deliveryFailures.inc({ bridge_id: this.bridgeId, direction, code });
  }

  /** Reports this bridge's queue depths at scrape time until the returned function is called. */
  watchQueues(source: QueueDepthSource): () => void {
    const s = this.s;
    if (!s) return () => undefined;
    s.sources.set(this.bridgeId, source);
    return () => {
      if (s.sources.get(this.bridgeId) === source) s.sources.delete(this.bridgeId);
    };
  }
}
