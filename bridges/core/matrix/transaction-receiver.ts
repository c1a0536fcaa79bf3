/** A Matrix event as an appservice transaction carries it (client event format). */
export interface MatrixEvent {
  event_id: string;
  room_id: string;
  sender: string;
  type: string;
  state_key?: string;
  content: Record<string, unknown>;
  origin_server_ts: number;
  redacts?: string;
  unsigned?: Record<string, unknown>;
}

/** An ephemeral event (MSC2409): m.receipt / m.typing with the room id added. */
export interface EphemeralEvent {
  type: string;
  room_id: string;
  content: Record<string, unknown>;
}

export interface TransactionHandler {
  /** Must make every event durable (or deliberately ignore it) before resolving: resolving acknowledges the transaction. */
  onEvents(events: MatrixEvent[]): Promise<void>;
  onEphemeral(events: EphemeralEvent[]): Promise<void>;
}

/**
 * The one entry point for appservice transactions, whichever transport brought them (inproc in
 * one process, HTTP in a cluster). The homeserver retries a transaction with the same txnId until
 * it is acknowledged, so txnIds already handled are acknowledged at once (a bounded memory of
 * recent ones; older duplicates are harmless too, because every event is deduped by its id
 * downstream: the outbox key and the message mappings).
 */
export class TransactionReceiver {
  private seen = new Set<string>();
  private inFlight = new Map<string, Promise<void>>();

  constructor(private handler: TransactionHandler) {}

  async receive(txnId: string, body: { events?: unknown[]; 'de.sorunome.msc2409.ephemeral'?: unknown[]; ephemeral?: unknown[] }) {
    if (this.seen.has(txnId)) return;
    const running = this.inFlight.get(txnId);
    if (running) return running;
    const work = (async () => {
      const events = (body.events ?? []) as MatrixEvent[];
      if (events.length) await this.handler.onEvents(events);
      const ephemeral = (body['de.sorunome.msc2409.ephemeral'] ?? body.ephemeral ?? []) as EphemeralEvent[];
      if (ephemeral.length) await this.handler.onEphemeral(ephemeral);
    })();
    this.inFlight.set(txnId, work);
    try {
      await work;
      if (this.seen.size >= 1000) this.seen.delete(this.seen.values().next().value!);
      this.seen.add(txnId);
    } finally {
      this.inFlight.delete(txnId);
    }
  }
}
