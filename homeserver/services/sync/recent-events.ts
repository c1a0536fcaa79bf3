import type { EventRow } from '../rooms/client-event.js';
import type { BuiltEvent } from '../rooms/event-builder.js';
import { redactsOf, type Chain, type CommittedEvent } from '../rooms/event-committer.js';
import type { SyncNotifier } from './notifier.js';

/** A timeline row, with whether it counts towards unread notifications (history imports may not). */
export type RecentRow = EventRow & { silent?: boolean };

interface Entry {
  version: string;
  /** Oldest first; every event of the room with a position in (lo, hi]. */
  events: RecentRow[];
  lo: number;
  hi: number;
  /** The newest event of the room up to `hi`: a new event whose only prev_event is this one follows it directly. */
  headId: string;
}

export interface RecentEventsOptions {
  maxRooms: number;
  maxEventsPerRoom: number;
}

/**
 * The newest events of recently active rooms, so a woken sync's timeline needs no query.
 *
 * An entry is a provably complete range: it holds every event of its room with a position in
 * (lo, hi]. It is made by a reader from a database result, and extended by this process's
 * commits only when the new event's single prev_event is the entry's newest event — Causeway rooms
 * are single chains whose head is compare-and-set on commit, so nothing can lie between the two.
 * A commit that does not chain on (another process wrote to the room) drops the entry. Beyond
 * `hi`, the notifier's RoomChangeCache (complete up to its `eventsPosition`) tells whether the
 * room has anything newer; if it might, the read falls back to Postgres (which refills the entry).
 */
export class RecentEvents {
  private entries = new Map<string, Entry>();

  constructor(
    private notifier: SyncNotifier,
    private opts: RecentEventsOptions = { maxRooms: 5000, maxEventsPerRoom: 64 },
  ) {}

  /**
   * Events of (from, to], newest first, at most `limit + 1` (as RoomTimelines.latest returns them),
   * or undefined when the cache cannot prove it holds all of them.
   */
  read(roomId: string, from: number, to: number, limit: number): RecentRow[] | undefined {
    const e = this.entries.get(roomId);
    if (!e || !this.coversUpTo(roomId, e, to)) return undefined;
    const out: RecentRow[] = [];
    for (let i = e.events.length - 1; i >= 0 && out.length <= limit; i--) {
      const row = e.events[i]!;
      if (row.stream_ordering > to) continue;
      if (row.stream_ordering <= from) return out;
      out.push(row);
    }
    // Ran out of cached events: complete only if the entry starts at or before `from`, or enough were found.
    return from >= e.lo || out.length > limit ? out : undefined;
  }

  /** Every event of (from, to], oldest first, or undefined when the cache cannot prove it has all of them. */
  range(roomId: string, from: number, to: number): RecentRow[] | undefined {
    const e = this.entries.get(roomId);
    if (!e || from < e.lo || !this.coversUpTo(roomId, e, to)) return undefined;
    return e.events.filter((r) => r.stream_ordering > from && r.stream_ordering <= to);
  }

  /** A database read of (from, to] for a room (newest first, at most `limit + 1` rows) becomes its entry. */
  fill(roomId: string, from: number, to: number, rowsNewestFirst: RecentRow[], limit: number): void {
    if (!rowsNewestFirst.length) return;
    const existing = this.entries.get(roomId);
    if (existing && existing.hi >= to) return;
    const newest = rowsNewestFirst[0]!;
    const oldest = rowsNewestFirst[rowsNewestFirst.length - 1]!;
    // Backfilled history (batch_send) can later appear below a room's oldest event, at negative
    // positions, without a commit here: never claim completeness below min(oldest, 0).
    const lo = rowsNewestFirst.length > limit ? oldest.stream_ordering - 1 : Math.max(from, Math.min(0, oldest.stream_ordering - 1));
    const events = rowsNewestFirst.slice().reverse();
    this.entries.delete(roomId);
    this.entries.set(roomId, { version: newest.room_version, events, lo, hi: to, headId: newest.event_id });
    this.trim(this.entries.get(roomId)!);
    this.evict();
  }

  /** After a commit in this process: extends the entries the events chain onto, drops the others. */
  committed(chains: Chain[], events: CommittedEvent[]): void {
    const positions = new Map(events.map((e) => [e.eventId, e.streamOrdering]));
    for (const chain of chains) {
      const silent = new Set(chain.silentEventIds ?? []);
      for (const event of chain.events) {
        const streamOrdering = positions.get(event.eventId);
        if (streamOrdering === undefined) this.entries.delete(chain.roomId);
        else this.append(event, streamOrdering, silent.has(event.eventId));
      }
    }
  }

  private append(event: BuiltEvent, streamOrdering: number, silent: boolean): void {
    const roomId = event.pdu.room_id;
    const e = this.entries.get(roomId);
    if (!e) return;
    if (streamOrdering <= e.hi) {
      // Already read from the database (the read ran after the commit): nothing to add, else unprovable.
      if (!e.events.some((r) => r.event_id === event.eventId)) this.entries.delete(roomId);
      return;
    }
    const prev = event.pdu.prev_events;
    if (prev.length !== 1 || prev[0] !== e.headId) {
      this.entries.delete(roomId);
      return;
    }
    if (event.pdu.type === 'm.room.redaction') {
      const target = redactsOf(event);
      const i = e.events.findIndex((r) => r.event_id === target);
      if (i >= 0 && !e.events[i]!.redacted_by) e.events[i] = { ...e.events[i]!, redacted_by: event.eventId, redaction_json: event.json };
    }
    e.events.push({
      event_id: event.eventId,
      stream_ordering: streamOrdering,
      json: event.json,
      unsigned: event.unsigned ? JSON.stringify(event.unsigned) : null,
      txn_device: event.draft.txn?.deviceId ?? null,
      txn_id: event.draft.txn?.txnId ?? null,
      room_version: e.version,
      redacted_by: null,
      redaction_json: null,
      silent,
    });
    e.hi = streamOrdering;
    e.headId = event.eventId;
    this.trim(e);
  }

  /** Drops a room's entry (its events changed in a way the cache cannot follow). */
  forget(roomId: string): void {
    this.entries.delete(roomId);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Whether the entry holds everything of its room up to `to`. */
  private coversUpTo(roomId: string, e: Entry, to: number): boolean {
    if (to <= e.hi) return true;
    // Nothing newer than hi in this room up to `to`: the change cache knows every change up to eventsPosition.
    const changes = this.notifier.roomChanges;
    return to <= this.notifier.eventsPosition && e.hi >= changes.earliest && changes.lastChangeOf(roomId) <= e.hi;
  }

  private trim(e: Entry): void {
    const excess = e.events.length - this.opts.maxEventsPerRoom;
    if (excess > 0) e.lo = e.events.splice(0, excess).at(-1)!.stream_ordering;
  }

  private evict(): void {
    while (this.entries.size > this.opts.maxRooms) this.entries.delete(this.entries.keys().next().value!);
  }
}
