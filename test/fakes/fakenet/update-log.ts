/**
 * The fake server's update log: per account, every event the account saw (messages, edits,
 * deletes, reactions, receipts, chat changes; not typing), numbered by a sequence `pts` that
 * grows by one per update, as Telegram keeps one per account (updates.getDifference) and WhatsApp
 * queues offline notifications. A client that stored the last pts it processed asks for the
 * difference on connect and gets every update it missed, in order.
 *
 * Bounded like the real servers: each account keeps at least its last `capacity` updates; a client
 * further behind is told `too_long` and must refetch history instead.
 */
import type { Difference, LoggedUpdate, NetEvent } from './types.js';

interface AccountLog {
  pts: number;
  entries: LoggedUpdate[];
}

export class UpdateLog {
  private accounts = new Map<string, AccountLog>();

  constructor(private readonly capacity: number) {}

  /** Appends the event to the account's log; returns its pts. */
  append(userId: string, event: NetEvent): number {
    let log = this.accounts.get(userId);
    if (!log) this.accounts.set(userId, (log = { pts: 0, entries: [] }));
    const pts = ++log.pts;
    log.entries.push({ pts, event });
    // Trimmed in batches, so appending stays O(1) amortised.
    if (log.entries.length >= 2 * this.capacity) log.entries.splice(0, log.entries.length - this.capacity);
    return pts;
  }

  /** The account's current pts (updates.getState): 0 before anything happened to it. */
  state(userId: string): number {
    return this.accounts.get(userId)?.pts ?? 0;
  }

  /** Updates after `pts`, oldest first, at most `limit` of them. */
  difference(userId: string, pts: number, limit: number): Difference {
    const log = this.accounts.get(userId) ?? { pts: 0, entries: [] };
    if (pts >= log.pts) return { kind: 'updates', updates: [], pts: log.pts, final: true };
    const first = log.entries[0]?.pts ?? log.pts + 1;
    if (pts + 1 < first) return { kind: 'too_long', pts: log.pts };
    const updates = log.entries.slice(pts + 1 - first, pts + 1 - first + limit);
    const last = updates[updates.length - 1]!.pts;
    return { kind: 'updates', updates, pts: last, final: last === log.pts };
  }

  /** The log's share of the fake's memory (entries reference events shared by every member). */
  approxBytes(): number {
    let n = 0;
    for (const log of this.accounts.values()) n += 80 + 40 * log.entries.length;
    return n;
  }
}
