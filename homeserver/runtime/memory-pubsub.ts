import { defaultErrorHandler, type PubSub, type RuntimeErrorHandler } from './ports.js';

type Listener = (message: unknown) => void;

/** In-process pubsub with the same observable behaviour as the Redis one: asynchronous, JSON-copied, ordered delivery. */
export class MemoryPubSub implements PubSub {
  private readonly topics = new Map<string, Set<Listener>>();
  private closed = false;

  constructor(private readonly onError: RuntimeErrorHandler = defaultErrorHandler) {}

  async publish(topic: string, message: unknown): Promise<void> {
    if (this.closed) throw new Error('pubsub is closed');
    // A JSON round trip, like Redis: listeners never share objects with the publisher, and a message Redis
    // could not carry fails here too instead of only in cluster mode.
    const json = JSON.stringify(message);
    // Snapshot now: only subscribers live at publish time get it. Delivery is a microtask (FIFO, so publish
    // order is kept) so a listener never runs inside the publisher's call stack.
    const listeners = [...(this.topics.get(topic) ?? [])];
    queueMicrotask(() => {
      for (const listener of listeners) {
        // Unsubscribed since publishing: drop it, as Redis drops messages for topics we have left.
        if (!this.topics.get(topic)?.has(listener)) continue;
        try {
          listener(JSON.parse(json));
        } catch (err) {
          this.onError(err, `pubsub listener for ${topic}`);
        }
      }
    });
  }

  async subscribe(topic: string, listener: Listener): Promise<() => Promise<void>> {
    if (this.closed) throw new Error('pubsub is closed');
    // Wrap so the same function subscribed twice is two subscriptions, each removed by its own unsubscribe.
    const entry: Listener = (message) => listener(message);
    let set = this.topics.get(topic);
    if (!set) this.topics.set(topic, (set = new Set()));
    set.add(entry);
    return async () => {
      set.delete(entry);
      if (set.size === 0 && this.topics.get(topic) === set) this.topics.delete(topic);
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.topics.clear();
  }
}
