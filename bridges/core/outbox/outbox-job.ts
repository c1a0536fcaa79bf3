import { createHash } from 'node:crypto';
import { storedPortalKey } from '../ids.js';
import type { LoginId, PortalKey } from '../network/ids.js';

/**
 * What an outbox job carries. The Postgres row is the truth (content, status, attempts); the job
 * only names it, plus the login and portal so the worker can route it and put it on the portal's
 * queue without a read first (which is what keeps the portal's order, see Outbox.handle).
 */
export interface OutboxJob {
  eventId: string;
  loginId: LoginId;
  chatId: string;
  receiver?: string;
  /** Attempts the row had made when this job was queued: one job id per attempt. */
  attempts: number;
}

export function outboxJob(row: { eventId: string; loginId: LoginId; key: PortalKey; attempts: number }): OutboxJob {
  return {
    eventId: row.eventId,
    loginId: row.loginId,
    chatId: row.key.chatId,
    ...(row.key.receiver ? { receiver: row.key.receiver } : {}),
    attempts: row.attempts,
  };
}

export function portalKeyOf(job: OutboxJob): PortalKey {
  return storedPortalKey(job.chatId, job.receiver);
}

/**
 * The job id of one attempt of one Matrix event: the queue ignores a second add while the first
 * is pending, so a row swept twice, or routed and swept, is queued once. Hashed because event ids
 * contain ':', which BullMQ forbids; a new id per attempt, because a retry is queued while the
 * job of the failed attempt is still running.
 */
export function outboxJobId(job: Pick<OutboxJob, 'eventId' | 'attempts'>): string {
  return `e${createHash('sha256').update(job.eventId).digest('base64url')}.${job.attempts}`;
}

/**
 * The queue of one bridge worker: `bridge-outbox.<bridgeId>.<workerId>`. Characters queue names
 * cannot have (':') and the separator ('.') are escaped, so two workers never share a queue.
 */
export function outboxQueueName(bridgeId: string, workerId: string): string {
  const escape = (s: string) => s.replace(/[^A-Za-z0-9_-]/g, (c) => `~${c.codePointAt(0)!.toString(16)}~`);
  return `bridge-outbox.${escape(bridgeId)}.${escape(workerId)}`;
}
