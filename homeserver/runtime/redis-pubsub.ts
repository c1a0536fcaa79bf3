import type { Redis } from 'ioredis';
import { defaultErrorHandler, type PubSub, type RuntimeErrorHandler } from './ports.js';

type Listener = (message: unknown) => void;

interface Topic {
  listeners: Set<Listener>;
  /** The SUBSCRIBE for this topic; every subscriber waits for it so "resolved" means "live". */
  live: Promise<unknown>;
}

export interface RedisPubSubOptions {
  /** Creates a connection; called twice (publisher, subscriber). This adapter owns and closes both. */
  connect: () => Redis;
  /** Channel prefix, so deployments (and test runs) sharing a Redis never hear each other. */
  prefix: string;
  onError?: RuntimeErrorHandler;
}

/**
 * Redis pubsub with one publisher and one subscriber connection for all topics (a subscribed connection cannot
 * be used for other commands under RESP2, and one per topic would not scale). Redis channels are subscribed
 * once per process; incoming messages fan out to the local listeners.
 */
export class RedisPubSub implements PubSub {
  private readonly publisher: Redis;
  private readonly subscriber: Redis;
  private readonly topics = new Map<string, Topic>();
  private readonly onError: RuntimeErrorHandler;
  private closed = false;

  constructor(private readonly opts: RedisPubSubOptions) {
    this.onError = opts.onError ?? defaultErrorHandler;
    this.publisher = opts.connect();
    this.subscriber = opts.connect();
    this.publisher.on('error', (err) => this.onError(err, 'pubsub publisher connection'));
    this.subscriber.on('error', (err) => this.onError(err, 'pubsub subscriber connection'));
    this.subscriber.on('message', (channel: string, raw: string) => this.deliver(channel, raw));
  }

  async publish(topic: string, message: unknown): Promise<void> {
    if (this.closed) throw new Error('pubsub is closed');
    await this.publisher.publish(this.channel(topic), JSON.stringify(message));
  }

  async subscribe(topic: string, listener: Listener): Promise<() => Promise<void>> {
    if (this.closed) throw new Error('pubsub is closed');
    // Wrap so the same function subscribed twice is two subscriptions, each removed by its own unsubscribe.
    const entry: Listener = (message) => listener(message);
    let state = this.topics.get(topic);
    if (!state) {
      state = { listeners: new Set(), live: this.subscriber.subscribe(this.channel(topic)) };
      this.topics.set(topic, state);
    }
    state.listeners.add(entry);
    const topicState = state;
    try {
      await topicState.live;
    } catch (err) {
      topicState.listeners.delete(entry);
      if (topicState.listeners.size === 0 && this.topics.get(topic) === topicState) this.topics.delete(topic);
      throw err;
    }
    return async () => {
      if (!topicState.listeners.delete(entry)) return;
      if (topicState.listeners.size > 0 || this.topics.get(topic) !== topicState) return;
      this.topics.delete(topic);
      // Commands on one connection run in order, so a SUBSCRIBE sent after this UNSUBSCRIBE (a new subscriber
      // of the same topic) still leaves the channel subscribed.
      if (!this.closed) await this.subscriber.unsubscribe(this.channel(topic));
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.topics.clear();
    // quit() lets queued commands finish; the connections are ours, so closing them lets the process exit.
    await Promise.allSettled([this.publisher.quit(), this.subscriber.quit()]);
  }

  private channel(topic: string): string {
    return `${this.opts.prefix}:pubsub:${topic}`;
  }

  private deliver(channel: string, raw: string): void {
    const prefix = `${this.opts.prefix}:pubsub:`;
    if (!channel.startsWith(prefix)) return;
    const topic = channel.slice(prefix.length);
    const state = this.topics.get(topic);
    if (!state) return; // unsubscribed while the message was in flight
    for (const listener of [...state.listeners]) {
      try {
        // Parsed per listener so no two listeners share (and can mutate) one object, as in the memory adapter.
        listener(JSON.parse(raw));
      } catch (err) {
        this.onError(err, `pubsub listener for ${topic}`);
      }
    }
  }
}
