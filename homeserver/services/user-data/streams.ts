import type { Logger } from '../../runtime/logger.js';
import type { PubSub } from '../../runtime/ports.js';
import type { Db, Tx } from '../../storage/db.js';
import { lockStream } from '../../storage/stream-lock.js';
import { STREAM_TOPIC, type StreamWakeUp } from '../sync/stream-source.js';

/** Stream names: part of the sync token format, never change them. */
export const ACCOUNT_DATA_STREAM = 'account_data';
export const PRESENCE_STREAM = 'presence';

/**
 * Runs a write of one stream in a transaction that holds the stream's lock (storage/stream-lock)
 * until COMMIT, so positions become visible strictly in allocation order and MAX(position) is
 * always a safe sync position.
 */
export function withStreamWrite<R>(db: Db, stream: string, fn: (tx: Tx) => Promise<R>): Promise<R> {
  return db.withTransaction(async (tx) => {
    await lockStream(tx, stream);
    return fn(tx);
  });
}

/** Wakes long-polling syncs in every process once the write is durable. */
export function wakeAfterCommit(tx: Tx, pubsub: PubSub, log: Logger, wake: StreamWakeUp): void {
  tx.afterCommit(() => {
    pubsub.publish(STREAM_TOPIC, wake).catch((err) => log.warn({ err, stream: wake.stream }, 'stream wake-up failed'));
  });
}
