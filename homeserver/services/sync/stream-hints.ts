import type { StreamWakeUp } from './stream-source.js';

/** The per-user streams whose wake-ups name users or rooms (everything but room events). */
export const HINTED_STREAMS = ['typing', 'receipts', 'account_data', 'to_device', 'device_lists', 'presence'] as const;
export type HintedStream = (typeof HINTED_STREAMS)[number];

/**
 * What this process has heard about the per-user streams: for each stream, the highest position
 * any wake-up announced, and the last position at which each user (or room) was named.
 *
 * Writers of these streams take a per-stream lock before allocating positions and publish after
 * their commit, so a position heard in a wake-up is committed together with everything below it:
 * reading (from, latest] from Postgres is always complete. A user not named since `from` has
 * nothing new unless a wake-up is still in flight (it will wake them, and the next read covers
 * it since their token did not move) or was lost (the next timed-out sync reads positions from
 * Postgres). Before `startFrom` (a restart, a token from a process that knew more) there is
 * nothing to go on, and sync reads the position from Postgres.
 */
export class StreamHints {
  private started = new Map<HintedStream, number>();
  private latest = new Map<HintedStream, number>();
  private byUser = new Map<HintedStream, Map<string, number>>();
  private byRoom = new Map<HintedStream, Map<string, number>>();
  /** Receipts: the last position at which each user's own receipt changed (for unread counts). */
  private ownReceipt = new Map<string, number>();
  /** Receipt wake-ups that did not say whose receipt moved (older writers): any cache of them is void. */
  private anonymousReceipts = 0;

  record(w: StreamWakeUp): void {
    const stream = w.stream as HintedStream;
    if (!HINTED_STREAMS.includes(stream)) return;
    if ((this.latest.get(stream) ?? 0) < w.position) this.latest.set(stream, w.position);
    for (const u of w.userIds ?? []) raise(mapOf(this.byUser, stream), u, w.position);
    for (const r of w.roomIds ?? []) raise(mapOf(this.byRoom, stream), r, w.position);
    if (stream === 'receipts') {
      const owners = w.actors ?? (w.roomIds?.length ? undefined : w.userIds);
      if (owners) for (const u of owners) raise(this.ownReceipt, u, w.position);
      else this.anonymousReceipts = Math.max(this.anonymousReceipts, w.position);
    }
  }

  /** Positions read from Postgres after subscribing: everything above them is heard. */
  startFrom(positions: Partial<Record<HintedStream, number>>): void {
    for (const s of HINTED_STREAMS) {
      const p = positions[s] ?? 0;
      this.started.set(s, p);
      if ((this.latest.get(s) ?? 0) < p) this.latest.set(s, p);
    }
  }

  /**
   * Where a sync from `from` must read this stream up to: `from` itself when nothing for the user
   * (or `rooms`) was heard since, the latest heard position when something was, or undefined when
   * `from` predates what this process knows (read the position from Postgres).
   */
  positionFor(stream: HintedStream, userId: string, rooms: string[], from: number): number | undefined {
    const started = this.started.get(stream);
    if (started === undefined || from < started) return undefined;
    const latest = Math.max(from, this.latest.get(stream) ?? 0);
    if ((this.byUser.get(stream)?.get(userId) ?? 0) > from) return latest;
    const byRoom = this.byRoom.get(stream);
    if (byRoom) for (const r of rooms) if ((byRoom.get(r) ?? 0) > from) return latest;
    return from;
  }

  /** The last heard position of anything that can change `userId`'s account data (push rules included). */
  accountDataVersion(userId: string): number {
    return this.byUser.get('account_data')?.get(userId) ?? 0;
  }

  /** A value that changes whenever `userId`'s own receipts may have changed. */
  receiptVersion(userId: string): string {
    return `${this.ownReceipt.get(userId) ?? 0}/${this.anonymousReceipts}`;
  }

  get isStarted(): boolean {
    return this.started.size > 0;
  }
}

function mapOf<K, V>(m: Map<K, Map<string, V>>, k: K): Map<string, V> {
  let inner = m.get(k);
  if (!inner) m.set(k, (inner = new Map()));
  return inner;
}

function raise(m: Map<string, number>, key: string, position: number): void {
  if ((m.get(key) ?? 0) < position) m.set(key, position);
}
