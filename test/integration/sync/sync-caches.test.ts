import { describe, expect, it } from 'vitest';
import { MemoryPubSub } from '../../../homeserver/runtime/memory-pubsub.js';
import { ROOM_EVENTS_TOPIC, SyncNotifier, type GapEvent, type RoomEventsWakeUp } from '../../../homeserver/services/sync/notifier.js';
import { RecentEvents } from '../../../homeserver/services/sync/recent-events.js';
import { STREAM_TOPIC } from '../../../homeserver/services/sync/stream-source.js';
import type { EventRow } from '../../../homeserver/services/rooms/client-event.js';
import type { Chain, CommittedEvent } from '../../../homeserver/services/rooms/event-committer.js';
import type { BuiltEvent } from '../../../homeserver/services/rooms/event-builder.js';

const tick = () => new Promise((r) => setTimeout(r, 5));

/** A notifier on the memory pub/sub whose gap reader answers from a list of "database" events. */
async function notifierAt(position: number, db: GapEvent[] = []) {
  const pubsub = new MemoryPubSub();
  const notifier = new SyncNotifier(pubsub);
  const gapReads: [number, number][] = [];
  await notifier.start({
    positions: async () => ({ events: position, typing: 5, receipts: 5, account_data: 5, to_device: 5, device_lists: 5, presence: 5 }),
    eventsBetween: async (after, upTo) => {
      gapReads.push([after, upTo]);
      return db.filter((e) => e.stream_ordering > after && e.stream_ordering <= upTo);
    },
  });
  const publish = async (m: RoomEventsWakeUp) => {
    await pubsub.publish(ROOM_EVENTS_TOPIC, m);
    await tick();
  };
  return { pubsub, notifier, gapReads, publish };
}

describe('SyncNotifier: a proven-complete room-events position', () => {
  it('moves over contiguous batches without reading, and reads the gap when a notification is missing', async () => {
    const db: GapEvent[] = [
      { room_id: '!x', stream_ordering: 12, member: null },
      { room_id: '!y', stream_ordering: 13, member: '@joiner:t' },
    ];
    const { notifier, gapReads, publish } = await notifierAt(10, db);
    const members: string[] = [];
    notifier.onMembershipChange((u) => members.push(...u));
    await publish({ position: 11, rooms: ['!a'], first: 11, count: 1 });
    expect(notifier.eventsPosition).toBe(11);
    expect(gapReads).toEqual([]);

    // 12 and 13 were committed by another process whose notification is late (or lost): 14 arrives first.
    let xWoken = false;
    void notifier.wait('@w:t', ['!x'], 10_000).done.then(() => (xWoken = true));
    await publish({ position: 14, rooms: ['!b'], first: 14, count: 1 });
    expect(gapReads).toEqual([[11, 14]]);
    expect(notifier.eventsPosition).toBe(14);
    expect(xWoken).toBe(true); // the waiter of a room only the gap read revealed
    expect(members).toEqual(['@joiner:t']);
    expect([...notifier.roomChanges.changedSince(['!a', '!b', '!x', '!y', '!z'], 11)!].sort()).toEqual(['!b', '!x', '!y']);

    // The late notification changes nothing; a batch with skipped positions inside is read too.
    await publish({ position: 13, rooms: ['!y'], first: 12, count: 2 });
    expect(gapReads.length).toBe(1);
    await publish({ position: 17, rooms: ['!c'], first: 15, count: 2 });
    expect(gapReads).toEqual([
      [11, 14],
      [14, 17],
    ]);
    expect(notifier.eventsPosition).toBe(17);
    await notifier.stop();
  });

  it('does not wake a sync before the position that woke it is usable, and catches up from Postgres on request', async () => {
    const { notifier, gapReads } = await notifierAt(3, [{ room_id: '!r', stream_ordering: 7, member: null }]);
    let seen = -1;
    void notifier.wait('@w:t', ['!r'], 10_000).done.then(() => (seen = notifier.eventsPosition));
    notifier.catchUp(7); // a timed-out sync read max(stream_ordering) = 7, and no notification came
    await new Promise((r) => setTimeout(r, 150));
    expect(gapReads).toEqual([[3, 7]]);
    expect(seen).toBe(7);
    notifier.catchUp(5); // already known: no read
    await tick();
    expect(gapReads.length).toBe(1);
    await notifier.stop();
  });

  it('answers per-user stream positions from wake-ups, and defers to Postgres for tokens older than its start', async () => {
    const { pubsub, notifier } = await notifierAt(0);
    const hints = notifier.hints;
    expect(hints.positionFor('account_data', '@u:t', [], 3)).toBeUndefined(); // before what this process heard
    expect(hints.positionFor('account_data', '@u:t', [], 5)).toBe(5); // nothing for @u since
    await pubsub.publish(STREAM_TOPIC, { stream: 'account_data', position: 8, userIds: ['@v:t'] });
    await pubsub.publish(STREAM_TOPIC, { stream: 'typing', position: 9, roomIds: ['!r'] });
    await tick();
    expect(hints.positionFor('account_data', '@u:t', [], 5)).toBe(5);
    expect(hints.positionFor('account_data', '@v:t', [], 5)).toBe(8);
    expect(hints.positionFor('typing', '@u:t', ['!q'], 5)).toBe(5);
    expect(hints.positionFor('typing', '@u:t', ['!q', '!r'], 5)).toBe(9);
    expect(hints.positionFor('typing', '@u:t', ['!r'], 9)).toBe(9);
    const before = hints.receiptVersion('@u:t');
    await pubsub.publish(STREAM_TOPIC, { stream: 'receipts', position: 10, roomIds: ['!r'], actors: ['@v:t'] });
    await tick();
    expect(hints.receiptVersion('@u:t')).toBe(before);
    await pubsub.publish(STREAM_TOPIC, { stream: 'receipts', position: 11, roomIds: ['!r'], actors: ['@u:t'] });
    await tick();
    expect(hints.receiptVersion('@u:t')).not.toBe(before);
    await notifier.stop();
  });
});

const row = (id: string, pos: number): EventRow => ({
  event_id: id,
  stream_ordering: pos,
  json: JSON.stringify({ type: 'm.room.message', room_id: '!r', sender: '@s:t', content: { body: id } }),
  unsigned: null,
  txn_device: null,
  txn_id: null,
  room_version: '11',
  redacted_by: null,
  redaction_json: null,
});
const built = (id: string, prev: string, extra: Record<string, unknown> = {}): BuiltEvent =>
  ({
    eventId: id,
    depth: 1,
    json: JSON.stringify({ type: 'm.room.message', room_id: '!r', prev_events: [prev], ...extra }),
    draft: { type: 'm.room.message', sender: '@s:t', content: {} },
    pdu: { type: 'm.room.message', room_id: '!r', sender: '@s:t', content: {}, prev_events: [prev], ...extra },
  }) as unknown as BuiltEvent;
const commit = (cache: RecentEvents, events: [BuiltEvent, number][]) =>
  cache.committed(
    [{ roomId: '!r', expectedHead: null, events: events.map(([e]) => e) } as Chain],
    events.map(([e, p]) => ({ eventId: e.eventId, roomId: '!r', streamOrdering: p }) as CommittedEvent),
  );

describe('RecentEvents: only provably complete ranges', () => {
  it('serves reads from a database fill extended by chained commits, and refuses what it cannot prove', async () => {
    const { notifier, publish } = await notifierAt(0);
    const cache = new RecentEvents(notifier, { maxRooms: 10, maxEventsPerRoom: 4 });
    expect(cache.read('!r', 0, 3, 10)).toBeUndefined();
    cache.fill('!r', 0, 3, [row('$c', 3), row('$b', 2), row('$a', 1)], 10);
    expect(cache.read('!r', 1, 3, 10)!.map((r) => r.event_id)).toEqual(['$c', '$b']);
    expect(cache.read('!r', 0, 3, 1)!.map((r) => r.event_id)).toEqual(['$c', '$b']); // limit + 1, newest first

    commit(cache, [[built('$d', '$c'), 4]]);
    // Up to 4 needs the notifier to know position 4 (else another room's event could be there... or this room's).
    await publish({ position: 4, rooms: ['!r'], first: 4, count: 1 });
    expect(cache.read('!r', 3, 4, 10)!.map((r) => r.event_id)).toEqual(['$d']);
    // Another room moved the position on: this room's entry still covers it.
    await publish({ position: 5, rooms: ['!other'], first: 5, count: 1 });
    expect(cache.read('!r', 3, 5, 10)!.map((r) => r.event_id)).toEqual(['$d']);
    // This room changed at 6 through another process (no commit here): not provable any more.
    await publish({ position: 6, rooms: ['!r'], first: 6, count: 1 });
    expect(cache.read('!r', 3, 6, 10)).toBeUndefined();
    expect(cache.read('!r', 3, 4, 10)!.map((r) => r.event_id)).toEqual(['$d']); // older ranges still are

    // Trimmed to 4 events: ranges reaching below the oldest kept one are refused unless enough events are there.
    cache.fill('!r', 3, 6, [row('$e', 6), row('$d', 4)], 10);
    commit(cache, [
      [built('$f', '$e'), 7],
      [built('$g', '$f'), 8],
      [built('$h', '$g'), 9],
    ]);
    expect(cache.read('!r', 3, 9, 10)).toBeUndefined(); // $d was trimmed away
    expect(cache.read('!r', 3, 9, 2)!.map((r) => r.event_id)).toEqual(['$h', '$g', '$f']);

    // A commit that does not chain on the newest event (another process wrote in between) drops the entry.
    commit(cache, [[built('$j', '$i'), 11]]);
    expect(cache.read('!r', 6, 9, 10)).toBeUndefined();
    await notifier.stop();
  });

  it('applies a redaction committed here to the cached target', async () => {
    const { notifier } = await notifierAt(0);
    const cache = new RecentEvents(notifier);
    cache.fill('!r', 0, 2, [row('$b', 2), row('$a', 1)], 10);
    commit(cache, [[built('$red', '$b', { type: 'm.room.redaction', redacts: '$a' }), 3]]);
    const rows = cache.read('!r', 0, 3, 10)!;
    expect(rows.find((r) => r.event_id === '$a')!.redacted_by).toBe('$red');
    await notifier.stop();
  });
});
