import type { PubSub } from '../../runtime/ports.js';
import { STREAM_TOPIC, type StreamWakeUp } from './stream-source.js';
import { RoomChangeCache } from './room-change-cache.js';

/** Published after each group commit: the highest durable position, the rooms it touched and the
 *  users whose membership changed (an invitee is not yet in the room's waiter set). */
export const ROOM_EVENTS_TOPIC = 'hs.room_events';

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
 */
export class SyncNotifier {
  private byUser = new Map<string, Set<Waiter>>();
  private byRoom = new Map<string, Set<Waiter>>();
  private unsubscribe: (() => Promise<void>)[] = [];
  private stopped = false;
  /** Which rooms changed when, from the same notifications that wake the waiters. */
  readonly roomChanges = new RoomChangeCache();

  constructor(private pubsub: PubSub) {}

  /** `currentEventsPosition` is read after subscribing, so no notification falls in between. */
  async start(currentEventsPosition: () => Promise<number>): Promise<void> {
    this.unsubscribe.push(
      await this.pubsub.subscribe(ROOM_EVENTS_TOPIC, (msg) => {
        const m = msg as { rooms: string[]; users?: string[]; position: number };
        this.roomChanges.record(m.rooms, m.position);
        for (const roomId of m.rooms) this.wakeRoom(roomId);
        for (const userId of m.users ?? []) this.wakeUser(userId);
      }),
      await this.pubsub.subscribe(STREAM_TOPIC, (msg) => {
        const m = msg as StreamWakeUp;
        for (const u of m.userIds ?? []) this.wakeUser(u);
        for (const r of m.roomIds ?? []) this.wakeRoom(r);
      }),
    );
    this.roomChanges.startFrom(await currentEventsPosition());
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

  /** Resolves when something for this user or one of their rooms happens, or after timeoutMs. */
  wait(userId: string, roomIds: string[], timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const waiter: Waiter = { userId, roomIds: new Set(roomIds), wake: () => finish() };
      const timer = setTimeout(() => finish(), timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        this.remove(waiter);
        signal?.removeEventListener('abort', finish);
        resolve();
      };
      signal?.addEventListener('abort', finish);
      add(this.byUser, userId, waiter);
      for (const r of roomIds) add(this.byRoom, r, waiter);
    });
  }

  get waiting(): number {
    let n = 0;
    for (const s of this.byUser.values()) n += s.size;
    return n;
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
