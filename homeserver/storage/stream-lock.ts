import type { Queryable } from './db.js';

/**
 * Serialises writers of one stream until their transaction ends. Stream positions come from
 * sequences, which hand out numbers at INSERT time, not at COMMIT: without this, a writer holding
 * position 5 could commit after one holding 6, and a reader that saw 6 would never see 5.
 * Taking this lock right before allocating positions makes allocation order equal commit order
 * across every process (what Synapse achieves with a single writer per stream).
 */
export async function lockStream(tx: Queryable, stream: string): Promise<void> {
  await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [streamLockKey(stream)]);
}

/** The text whose hashtext() is the stream's lock key (for statements that take the lock inline). */
export const streamLockKey = (stream: string): string => `stream:${stream}`;
