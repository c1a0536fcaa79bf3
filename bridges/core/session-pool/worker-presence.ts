import type { PubSub } from '../../../homeserver/runtime/ports.js';

interface PresenceMessage {
  workerId: string;
  kind: 'hello' | 'beat' | 'bye';
}

/**
 * Which workers of a bridge are alive, learnt over pub/sub (`bridge.workers.<bridgeId>`), so each
 * pool can aim at a fair share of the logins: a worker that starts while another holds every
 * lease gets half of them handed over, instead of idling until the other dies.
 *
 * Presence only balances load; it never decides who runs a login (the Postgres lease does). A
 * lost or duplicated message therefore costs at most some imbalance until the next beat.
 */
export class WorkerPresence {
  private readonly seen = new Map<string, number>();
  private unsubscribe: (() => Promise<void>) | undefined;
  private readonly topic: string;

  constructor(
    private readonly pubsub: PubSub,
    bridgeId: string,
    private readonly workerId: string,
    /** A worker not heard of for this long is considered gone. */
    private readonly expiryMs: number,
    private readonly onChange: () => void = () => {},
  ) {
    this.topic = `bridge.workers.${bridgeId}`;
  }

  async start(): Promise<void> {
    this.unsubscribe = await this.pubsub.subscribe(this.topic, (m) => this.receive(m as PresenceMessage));
    await this.send('hello');
  }

  /** Called on every renewal interval. */
  beat(): void {
    void this.send('beat');
  }

  async stop(): Promise<void> {
    await this.send('bye');
    await this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.seen.clear();
  }

  /** Live workers of the bridge, this one included. */
  liveWorkers(now = Date.now()): number {
    let n = 1;
    for (const [id, at] of this.seen) {
      if (now - at > this.expiryMs) this.seen.delete(id);
      else n++;
    }
    return n;
  }

  private receive(m: PresenceMessage): void {
    if (!m || typeof m.workerId !== 'string' || m.workerId === this.workerId) return;
    const known = this.seen.has(m.workerId);
    if (m.kind === 'bye') this.seen.delete(m.workerId);
    else this.seen.set(m.workerId, Date.now());
    // Answer a newcomer at once so it learns about us before its first scan.
    if (m.kind === 'hello') void this.send('beat');
    if (known !== this.seen.has(m.workerId)) this.onChange();
  }

  private async send(kind: PresenceMessage['kind']): Promise<void> {
    try {
      await this.pubsub.publish(this.topic, { workerId: this.workerId, kind } satisfies PresenceMessage);
    } catch {
      /* pub/sub closed during shutdown: presence is advisory */
    }
  }
}
