import type { PubSub } from '../../runtime/ports.js';
import { STREAM_TOPIC, type StreamWakeUp } from './stream-source.js';
import { RoomChangeCache } from './room-change-cache.js';
import { StreamHints, type HintedStream } from './stream-hints.js';
import type { Cancellation } from './cancellation.js';

/** Published after each group commit: the highest durable position, the rooms it touched and the
 *  users whose membership changed (an invitee is not yet in the room's waiter set). */
export const ROOM_EVENTS_TOPIC = 'hs.room_events';

/** How long a position Postgres reported may wait for its notification before the gap is read. */
const CATCH_UP_DELAY_MS = 100;

export interface RoomEventsWakeUp {
  position: number;
  rooms: string[];
  users?: string[];
  /** The batch's lowest position and its number of events: when `position - first + 1 === count`
   *  the batch is every position in [first, position], which lets a listener prove it missed nothing. */
  first?: number;
  count?: number;
}

/** An event row as the gap reader returns it: enough to replay a missed notification. */
export interface GapEvent {
  room_id: string;
  stream_ordering: number;
  /** The state_key of an m.room.member event (whose membership changed), else null. */
  member: string | null;
}

export interface NotifierStartOptions {
  /** Current positions, read after subscribing so no notification falls in between. */
  positions: () => Promise<{ events: number } & Partial<Record<HintedStream, number>>>;
  /** Events in (after, upTo]: closes a gap in the notifications (one lost, or overtaken by a later one). */
  eventsBetween: (after: number, upTo: number) => Promise<GapEvent[]>;
  onError?: (err: unknown) => void;
}

/** One registered long-poll: `done` resolves on a relevant change, the timeout or `cancel`. */
export interface Waiting {
  done: Promise<void>;
  cancel(): void;
}

interface Waiter {
  userId: string;
  roomIds: Set<string>;
  wake: () => void;
}

/**
 * Wakes long-polling syncs. Every writer publishes after its commit (room events with the rooms
 * they touched; other streams with the users or rooms they concern) and each process's notifier
 * resolves exactly the waiters that care, found through two indexes so a wake-up costs O(waiters
 * woken), not O(all open long-polls).
 *
 * It also keeps what sync needs to answer without queries: `eventsPosition`, a room-events
 * position below which every event's room is known (`roomChanges`), and what was heard of the
 * other streams (`hints`). Room-event notifications carry their batch's first position and size;
 * one that does not start right after `eventsPosition` (another process's notification overtook
 * it or was lost, or positions were skipped) is held back while the gap is read from Postgres,
 * so `eventsPosition` only ever moves over a contiguous, fully known range. Waiters are woken
 * after that, so a woken sync always sees the position that woke it.
 */
export class SyncNotifier {
  private byUser = new Map<string, Set<Waiter>>();
  private byRoom = new Map<string, Set<Waiter>>();
  private unsubscribe: (() => Promise<void>)[] = [];
  private stopped = false;
  /** Which rooms changed when, from the same notifications that wake the waiters. */
  readonly roomChanges = new RoomChangeCache();
  /** What was heard of the per-user streams. */
  readonly hints = new StreamHints();
  private complete = -1;
  private held: RoomEventsWakeUp[] = [];
  private repairing = false;
  private opts?: NotifierStartOptions;
  private membershipListeners: ((users: string[]) => void)[] = [];

  constructor(private pubsub: PubSub) {}

  async start(opts: NotifierStartOptions): Promise<void> {
    this.opts = opts;
    this.unsubscribe.push(
      await this.pubsub.subscribe(ROOM_EVENTS_TOPIC, (msg) => this.onRoomEvents(msg as RoomEventsWakeUp)),
      await this.pubsub.subscribe(STREAM_TOPIC, (msg) => {
        const m = msg as StreamWakeUp;
        this.hints.record(m);
        for (const u of m.userIds ?? []) this.wakeUser(u);
        for (const r of m.roomIds ?? []) this.wakeRoom(r);
      }),
    );
    const positions = await opts.positions();
    this.hints.startFrom(positions);
    this.roomChanges.startFrom(positions.events);
    this.complete = positions.events;
    this.drain();
  }

  /** Every room event at or below this position is committed and its room recorded in `roomChanges`
   *  (-1 before start). */
  get eventsPosition(): number {
    return this.complete;
  }

  /** Called (before any waiter wakes) with the users whose membership changed in a notified batch. */
  onMembershipChange(fn: (users: string[]) => void): void {
    this.membershipListeners.push(fn);
  }

  /**
   * Postgres says room events exist up to `position`: if no notification covers them shortly
   * (lost, or very late), read them so waiters wake and `eventsPosition` catches up.
   */
  catchUp(position: number): void {
    if (this.complete < 0 || position <= this.complete || this.stopped) return;
    // Usually the notification is merely in flight: give it a moment before reading the gap.
    setTimeout(() => {
      if (position <= this.complete || this.stopped) return;
      this.held.push({ position, rooms: [] });
      this.drain();
    }, CATCH_UP_DELAY_MS).unref();
  }

  /** After stop, every wait returns at once: shutdown must not sit out open long-polls. */
  get isStopped(): boolean {
    return this.stopped;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const u of this.unsubscribe.splice(0)) await u();
    for (const set of this.byUser.values()) for (const w of set) w.wake();
  }

  /**
   * `done` resolves when something for this user or one of their rooms happens, after timeoutMs,
   * when `cancellation` is cancelled, or when `cancel` is called (no AbortController per wait: they are costly).
   */
  wait(userId: string, roomIds: string[], timeoutMs: number, cancellation?: Cancellation): Waiting {
    if (this.stopped || cancellation?.aborted) return { done: Promise.resolve(), cancel: () => {} };
    let finish!: () => void;
    const done = new Promise<void>((resolve) => {
      const waiter: Waiter = { userId, roomIds: new Set(roomIds), wake: () => finish() };
      const timer = setTimeout(() => finish(), timeoutMs);
      let finished = false;
      const stopListening = cancellation?.onCancel(() => finish());
      finish = () => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        this.remove(waiter);
        stopListening?.();
        resolve();
      };
      add(this.byUser, userId, waiter);
      for (const r of roomIds) add(this.byRoom, r, waiter);
    });
    return { done, cancel: () => finish() };
  }

  get waiting(): number {
    let n = 0;
    for (const s of this.byUser.values()) n += s.size;
    return n;
  }

  private onRoomEvents(m: RoomEventsWakeUp): void {
    this.held.push(m);
    this.drain();
  }

  /** Applies held notifications in position order until one needs a gap read. */
  private drain(): void {
    if (this.complete < 0 || this.repairing) return;
    this.held.sort((a, b) => a.position - b.position);
    while (this.held.length && !this.repairing) {
      const m = this.held.shift()!;
      if (m.position <= this.complete) continue; // covered by a gap read already
      const contiguous =
        m.first !== undefined && m.count !== undefined && m.position - m.first + 1 === m.count && m.first <= this.complete + 1;
      if (contiguous) this.apply(m.rooms, m.users ?? [], m.position);
      else this.repair(m);
    }
  }

  private apply(rooms: string[], users: string[], position: number): void {
    this.roomChanges.record(rooms, position);
    if (users.length) for (const fn of this.membershipListeners) fn(users);
    this.complete = Math.max(this.complete, position);
    for (const roomId of rooms) this.wakeRoom(roomId);
    for (const userId of users) this.wakeUser(userId);
  }

  /** Reads the events of (eventsPosition, m.position] from Postgres, applies them, then goes on. */
  private repair(m: RoomEventsWakeUp): void {
    this.repairing = true;
    const after = this.complete;
    this.opts!.eventsBetween(after, m.position).then(
      (rows) => {
        this.repairing = false;
        for (const r of rows) this.roomChanges.record([r.room_id], r.stream_ordering);
        const users = new Set(m.users ?? []);
        for (const r of rows) if (r.member) users.add(r.member);
        this.apply([...new Set([...m.rooms, ...rows.map((r) => r.room_id)])], [...users], m.position);
        this.drain();
      },
      (err) => {
        // Postgres unavailable: try again shortly; until then syncs see the old position.
        this.opts!.onError?.(err);
        setTimeout(() => {
          this.repairing = false;
          this.held.push(m);
          if (!this.stopped) this.drain();
        }, 200).unref();
      },
    );
  }

  private wakeUser(userId: string): void {
    for (const w of [...(this.byUser.get(userId) ?? [])]) w.wake();
  }

  private wakeRoom(roomId: string): void {
    for (const w of [...(this.byRoom.get(roomId) ?? [])]) w.wake();
  }

  private remove(w: Waiter): void {
    del(this.byUser, w.userId, w);
    for (const r of w.roomIds) del(this.byRoom, r, w);
  }
}

function add<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(value);
}

function del<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  const set = map.get(key);
  if (!set) return;
  set.delete(value);
  if (!set.size) map.delete(key);
}
