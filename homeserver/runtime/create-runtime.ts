import { Redis } from 'ioredis';
import { BullMqJobQueue } from './bullmq-job-queue.js';
import { MemoryJobQueue } from './memory-job-queue.js';
import { MemoryKeyedLock } from './memory-keyed-lock.js';
import { MemoryPubSub } from './memory-pubsub.js';
import { defaultErrorHandler, type JobQueue, type Runtime, type RuntimeErrorHandler } from './ports.js';
import { RedisKeyedLock } from './redis-keyed-lock.js';
import { RedisPubSub } from './redis-pubsub.js';

export type RuntimeOptions = (
  | { transport: 'memory' }
  | {
      transport: 'redis';
      redisUrl: string;
      /** Namespaces every key and channel; processes of one deployment must share it. Default 'causeway'. */
      prefix?: string;
    }
) & {
  /** Where errors nobody awaits go (jobs that gave up, throwing listeners, connection errors). Default console.error. */
  onError?: RuntimeErrorHandler;
};

/** The only place that knows which adapters exist: services see the ports only. */
export function createRuntime(opts: RuntimeOptions): Runtime {
  const onError = opts.onError ?? defaultErrorHandler;
  if (opts.transport === 'memory') {
    const pubsub = new MemoryPubSub(onError);
    return assemble(
      'memory',
      (name) => new MemoryJobQueue(name, onError),
      pubsub,
      new MemoryKeyedLock(),
      async () => {
        await pubsub.close();
      },
    );
  }

  const prefix = opts.prefix ?? 'causeway';
  const connect = () => {
    const client = new Redis(opts.redisUrl, { maxRetriesPerRequest: null });
    client.on('error', (err) => onError(err, 'redis connection'));
    return client;
  };
  // One command connection shared by the queues (BullMQ requires maxRetriesPerRequest: null, hence above) and
  // the locks; workers and pubsub open their own, since they block or subscribe.
  const commands = connect();
  const pubsub = new RedisPubSub({ connect, prefix, onError });
  const locks = new RedisKeyedLock({ client: commands, prefix, onError });
  return assemble(
    'redis',
    (name) => new BullMqJobQueue(name, { connection: commands, prefix: `${prefix}:jobs`, onError }),
    pubsub,
    locks,
    async () => {
      locks.close();
      await pubsub.close();
      await commands.quit().catch(() => commands.disconnect());
    },
  );
}

/**
 * Caches one queue per name (the memory queue's jobs live in the object, so producers and consumers must share
 * it), and closes queues before the transports they use.
 */
function assemble(
  transport: Runtime['transport'],
  createQueue: (name: string) => JobQueue<unknown>,
  pubsub: Runtime['pubsub'],
  locks: Runtime['locks'],
  closeTransport: () => Promise<void>,
): Runtime {
  const queues = new Map<string, JobQueue<unknown>>();
  let closing: Promise<void> | undefined;
  return {
    transport,
    pubsub,
    locks,
    jobs<T>(name: string): JobQueue<T> {
      if (closing) throw new Error('runtime is closed');
      let queue = queues.get(name);
      if (!queue) {
        const inner = createQueue(name);
        const wrapper: JobQueue<unknown> = {
          name,
          add: (data, o) => inner.add(data, o),
          process: (handler, o) => inner.process(handler, o),
          // A closed queue leaves the cache, so a later jobs(name) gets a fresh one.
          close: async () => {
            if (queues.get(name) === wrapper) queues.delete(name);
            await inner.close();
          },
          obliterate: async () => {
            if (queues.get(name) === wrapper) queues.delete(name);
            await inner.obliterate();
          },
        };
        queues.set(name, (queue = wrapper));
      }
      return queue as JobQueue<T>;
    },
    close() {
      closing ??= (async () => {
        await Promise.all([...queues.values()].map((q) => q.close()));
        await closeTransport();
      })();
      return closing;
    },
  };
}

/** The runtime the `runtime` config section names (config checks guarantee redis_url for 'redis'). */
export function createRuntimeFromConfig(c: { transport: 'memory' | 'redis'; redis_url?: string; redis_prefix: string }): Runtime {
  return c.transport === 'redis'
    ? createRuntime({ transport: 'redis', redisUrl: c.redis_url!, prefix: c.redis_prefix })
    : createRuntime({ transport: 'memory' });
}
