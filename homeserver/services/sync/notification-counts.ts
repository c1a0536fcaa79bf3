import type { Pdu } from '../../matrix/pdu.js';
import { isRead, threadOf, type ReadPositions } from '../ephemeral/read-positions.js';
import type { RoomState } from '../rooms/room-state.js';
import { parsedPdu } from './parsed-rows.js';
import type { RecentEvents } from './recent-events.js';
import { roomPushFacts } from '../user-data/push/room-push-facts.js';

/** One unread event as sync reads it. */
export interface UnreadEvent {
  json: string;
  stream_ordering: number;
}

/** What the push rule engine decides for one event and one recipient (the user-data service supplies it). */
export type NotificationDecider = (
  event: Pdu,
  ctx: {
    userId: string;
    displayName: string | null;
    roomMemberCount: number;
    senderPowerLevel: number;
    notificationLevels?: Record<string, unknown>;
  },
) => { notify: boolean; highlight: boolean };

/** Unread events counted per room: the newest ones after the read receipt (sync loads at most this many). */
export const UNREAD_CAP = 100;

interface Decision {
  position: number;
  /** The thread root for an event in a thread, null on the main timeline (see read-positions.ts). */
  thread: string | null;
  notify: boolean;
  highlight: boolean;
}

export interface Counts {
  notification_count: number;
  highlight_count: number;
}

/**
 * A room's unread counts as sync reports them: the main timeline and each thread apart (spec:
 * `unread_notifications` and `unread_thread_notifications` when the filter asks for
 * `unread_thread_notifications`), or their sum (`combined`) when it does not.
 */
export interface RoomCounts {
  main: Counts;
  threads: Map<string, Counts>;
}

export function combined(c: RoomCounts): Counts {
  const out = { ...c.main };
  for (const t of c.threads.values()) {
    out.notification_count += t.notification_count;
    out.highlight_count += t.highlight_count;
  }
  return out;
}

/**
 * What the user's push rules decide for each event (oldest first), as the spec's "Receiving
 * notifications" describes, evaluated against the room's current state.
 */
function decisions(userId: string, room: RoomState, events: { pdu: Pdu; position: number }[], decide: NotificationDecider): Decision[] {
  if (!events.length) return [];
  const facts = roomPushFacts(room);
  const displayName = facts.displayName(userId);
  return events.map(({ pdu, position }) => {
    const { notify, highlight } = decide(pdu, {
      userId,
      displayName,
      roomMemberCount: facts.joinedMembers,
      senderPowerLevel: facts.senderPowerLevel(pdu.sender),
      notificationLevels: facts.notificationLevels,
    });
    return { position, thread: threadOf(pdu), notify, highlight };
  });
}

/** The decisions of the events the user has not read, by thread (a threaded receipt reads only its thread). */
function total(list: Decision[], reads: ReadPositions | undefined): RoomCounts {
  const out: RoomCounts = { main: { notification_count: 0, highlight_count: 0 }, threads: new Map() };
  for (const d of list) {
    if (!d.notify || isRead(reads, d.thread, d.position)) continue;
    let bucket = out.main;
    if (d.thread !== null) {
      bucket = out.threads.get(d.thread) ?? { notification_count: 0, highlight_count: 0 };
      out.threads.set(d.thread, bucket);
    }
    bucket.notification_count++;
    if (d.highlight) bucket.highlight_count++;
  }
  return out;
}

/**
 * The room's unread counts: the events the user's read receipts leave unread that the user's push
 * rules say notify (and highlight). Counting is capped by how many unread events the caller
 * loaded (sync loads at most UNREAD_CAP per room).
 */
export function countNotifications(
  userId: string,
  room: RoomState,
  events: UnreadEvent[],
  decide: NotificationDecider,
  reads?: ReadPositions,
): RoomCounts {
  const list = events.map((e) => ({ pdu: JSON.parse(e.json) as Pdu, position: e.stream_ordering }));
  return total(decisions(userId, room, list, decide), reads);
}

interface Entry {
  /** StreamHints.receiptVersion when `reads` was loaded: a change means a receipt may have moved. */
  receiptVersion: string;
  reads: ReadPositions | undefined;
  decide: NotificationDecider;
  /**
   * Room state the decisions were made against. The cache replaces the object when it reloads the
   * room; commits update it in place, but a state change arrives as a state event, which drops the entry.
   */
  room: RoomState;
  countedTo: number;
  /** The decisions for the newest UNREAD_CAP counted events, oldest first. */
  decisions: Decision[];
}

/**
 * Unread counts kept per (user, room) and moved forward incrementally: a woken sync evaluates
 * only the events since the last count (from RecentEvents, which proves it has all of them),
 * instead of reloading the read receipt and up to UNREAD_CAP events. An entry is dropped — and the
 * count recomputed from Postgres — when the user's receipts or push rules may have changed, when
 * a state event or a redaction arrives (either can change earlier decisions), or when the cache
 * cannot prove it has every new event.
 */
export class UnreadCounter {
  private entries = new Map<string, Entry>();

  constructor(
    private recent: RecentEvents,
    private maxEntries = 50_000,
  ) {}

  /** The counts at `to`, or undefined when they must be recomputed from Postgres. */
  advance(
    userId: string,
    roomId: string,
    to: number,
    receiptVersion: string,
    room: RoomState,
    decide: NotificationDecider,
  ): RoomCounts | undefined {
    const key = `${userId}\u0000${roomId}`;
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.receiptVersion !== receiptVersion || e.decide !== decide || e.room !== room || to < e.countedTo) {
      this.entries.delete(key);
      return undefined;
    }
    if (to > e.countedTo) {
      const rows = this.recent.range(roomId, e.countedTo, to);
      if (!rows) return undefined;
      const fresh: { pdu: Pdu; position: number }[] = [];
      for (const r of rows) {
        // Every woken sync of the room counts the same cached rows: parse each once (read-only).
        const pdu = parsedPdu(r);
        if (pdu.state_key !== undefined || pdu.type === 'm.room.redaction' || r.redacted_by) {
          this.entries.delete(key);
          return undefined;
        }
        if (pdu.sender !== userId && !r.silent) fresh.push({ pdu, position: r.stream_ordering });
      }
      e.decisions.push(...decisions(userId, room, fresh, decide));
      if (e.decisions.length > UNREAD_CAP) e.decisions.splice(0, e.decisions.length - UNREAD_CAP);
      e.countedTo = to;
    }
    return total(e.decisions, e.reads);
  }

  /**
   * Counts from events read from Postgres (newest first, after the unthreaded receipt, up to `to`)
   * and the user's read positions; remembered for next time.
   */
  compute(
    userId: string,
    roomId: string,
    to: number,
    receiptVersion: string,
    room: RoomState,
    decide: NotificationDecider,
    newestFirst: UnreadEvent[],
    reads: ReadPositions | undefined,
  ): RoomCounts {
    const list = newestFirst
      .slice()
      .reverse()
      .map((e) => ({ pdu: JSON.parse(e.json) as Pdu, position: e.stream_ordering }));
    const made = decisions(userId, room, list, decide);
    const key = `${userId}\u0000${roomId}`;
    this.entries.delete(key);
    this.entries.set(key, { receiptVersion, reads, decide, room, countedTo: to, decisions: made });
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    return total(made, reads);
  }
}
