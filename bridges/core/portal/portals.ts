import type { LoginHandle } from '../login-directory.js';
import { portalKeyString } from '../ids.js';
import { BridgeMetrics } from '../metrics/bridge-metrics.js';
import { failureCode } from '../metrics/failure-code.js';
import type { PortalKey } from '../network/ids.js';
import type { RemoteEvent } from '../network/remote-event.js';
import { Portal } from './portal.js';
import type { PortalDeps } from './portal-deps.js';
import { applyRemoteEvent } from './remote-events.js';
import { QueuedTally } from './serial-queue.js';

/** Rough bytes a queued remote event holds (text dominates; media is a stream opened later). */
function eventBytes(ev: RemoteEvent): number {
  if (ev.type === 'message' || ev.type === 'edit') return 300 + (ev.content.kind === 'text' ? ev.content.text.text.length * 2 : 200);
  return 200;
}

/**
 * The live portals of this worker, by key. A portal object is made synchronously on first use
 * and its queue's first task loads (or creates) its row, so `emit` can queue at once and order is
 * kept from the first event on. Idle portals beyond `maxCached` are dropped (oldest first) and
 * reloaded when needed.
 */
export class Portals {
  private live = new Map<string, Portal>();
  private readonly queued = new QueuedTally();
  private readonly metrics: BridgeMetrics;

  constructor(
    private deps: PortalDeps,
    private opts: { maxQueue: number; maxCached: number; metrics?: BridgeMetrics },
  ) {
    this.metrics = opts.metrics ?? new BridgeMetrics(undefined, deps.bridgeId);
  }

  portalFor(key: PortalKey): Portal {
    const k = portalKeyString(key);
    const portal = this.live.get(k);
    if (portal) {
      // Most recently used last, so eviction takes the least recently used.
      this.live.delete(k);
      this.live.set(k, portal);
      return portal;
    }
    const p = new Portal(
      key,
      this.opts.maxQueue,
      (err) => this.deps.log.warn({ err, chat: key.chatId }, 'portal task failed'),
      this.queued,
    );
    p.queue.push({
      bytes: 64,
      run: async () => {
        p.record = await this.deps.portals.getOrCreate(key);
      },
    });
    this.live.set(k, p);
    this.evict();
    return p;
  }

  /** Queues a remote event on its portal (LoginContext.emit, which documents `onApplied`). Never throws. */
  emit(login: LoginHandle, ev: RemoteEvent, onApplied?: (applied: boolean) => void): void {
    const portal = this.portalFor(ev.portal);
    if (!portal.meters.has(login.loginId)) {
      portal.meters.set(
        login.loginId,
        login.memory.register(`portal:${portalKeyString(ev.portal)}`, () => portal.bytes()),
      );
    }
    this.metrics.remoteEvent(ev.type);
    portal.queue.push({
      bytes: eventBytes(ev),
      droppable: ev.type === 'typing',
      label: `remote ${ev.type}`,
      // The core never retries a remote event that failed to apply (the queue logs it and moves on;
      // only the connector may fetch it again later), so this is the core's final failure.
      run: () =>
        applyRemoteEvent(this.deps, portal, ev, login).then(
          () => onApplied?.(true),
          (err: unknown) => {
            this.metrics.deliveryFailure('to_matrix', failureCode(err));
            onApplied?.(false);
            throw err;
          },
        ),
    });
  }

  /** Tasks waiting on every portal queue of this worker (metrics; the running tasks are not counted). */
  queuedCount(): number {
    return this.queued.count;
  }

  /** Portals with work waiting or running: chat, waiting tasks, the running task and since when (diagnostics). */
  busy(): { chatId: string; waiting: number; running?: { label: string; since: number } }[] {
    return [...this.live.values()]
      .filter((p) => p.queue.busy)
      .map((p) => ({ chatId: p.key.chatId, waiting: p.queue.length, ...(p.queue.runningTask ? { running: p.queue.runningTask } : {}) }));
  }

  /** Resolves once every portal's queue is empty (graceful stop, tests). */
  async idle(): Promise<void> {
    for (;;) {
      const busy = [...this.live.values()].filter((p) => p.queue.busy);
      if (!busy.length) return;
      await Promise.all(busy.map((p) => p.queue.idle()));
    }
  }

  private evict(): void {
    if (this.live.size <= this.opts.maxCached) return;
    for (const [k, p] of this.live) {
      if (this.live.size <= this.opts.maxCached) return;
      if (p.queue.busy) continue;
      for (const unregister of p.meters.values()) unregister();
      this.live.delete(k);
    }
  }
}
