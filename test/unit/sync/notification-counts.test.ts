import { describe, expect, it } from 'vitest';
import type { Pdu } from '../../../homeserver/matrix/pdu.js';
import { RoomState, stateMapKey, type StoredEvent } from '../../../homeserver/services/rooms/room-state.js';
import {
  combined,
  countNotifications,
  UnreadCounter,
  type NotificationDecider,
} from '../../../homeserver/services/sync/notification-counts.js';
import { parsedPdu } from '../../../homeserver/services/sync/parsed-rows.js';
import type { RecentEvents, RecentRow } from '../../../homeserver/services/sync/recent-events.js';

const ME = '@me:t';
const stored = (type: string, stateKey: string, content: Record<string, unknown>, sender = '@creator:t'): StoredEvent => ({
  eventId: `$${type}-${stateKey}-${JSON.stringify(content)}`,
  pdu: { type, state_key: stateKey, sender, content } as unknown as Pdu,
});

function room(): RoomState {
  const state = new Map<string, StoredEvent>();
  const put = (e: StoredEvent) => state.set(stateMapKey(e.pdu.type, e.pdu.state_key!), e);
  put(stored('m.room.create', '', {}));
  put(stored('m.room.power_levels', '', { users: { '@mod:t': 60 }, users_default: 5, notifications: { room: 60 } }));
  put(stored('m.room.member', ME, { membership: 'join', displayname: 'Me Myself' }));
  put(stored('m.room.member', '@mod:t', { membership: 'join' }));
  put(stored('m.room.member', '@left:t', { membership: 'leave' }));
  return new RoomState('!r:t', '11', state, '$head', 3);
}

const message = (sender: string, n: number) =>
  JSON.stringify({ type: 'm.room.message', sender, room_id: '!r:t', content: { body: `m${n}` } });

/** A decider that notifies for everything and records the context of each call. */
function recording() {
  const seen: { sender: string; event: Pdu; ctx: Parameters<NotificationDecider>[1] }[] = [];
  const decide: NotificationDecider = (event, ctx) => {
    seen.push({ sender: event.sender, event, ctx });
    return { notify: true, highlight: ctx.senderPowerLevel >= 60 };
  };
  return { seen, decide };
}

describe('notification counts', () => {
  it('evaluates each event with the room facts and the sender level', () => {
    const { seen, decide } = recording();
    const counts = countNotifications(
      ME,
      room(),
      [
        { json: message('@mod:t', 1), stream_ordering: 1 },
        { json: message('@other:t', 2), stream_ordering: 2 },
      ],
      decide,
    );
    expect(combined(counts)).toEqual({ notification_count: 2, highlight_count: 1 });
    expect(seen.map((s) => [s.sender, s.ctx])).toEqual([
      ['@mod:t', { userId: ME, displayName: 'Me Myself', roomMemberCount: 2, senderPowerLevel: 60, notificationLevels: { room: 60 } }],
      ['@other:t', { userId: ME, displayName: 'Me Myself', roomMemberCount: 2, senderPowerLevel: 5, notificationLevels: { room: 60 } }],
    ]);
  });

  it('sees state committed into the same RoomState object', () => {
    const state = room();
    const first = recording();
    countNotifications(ME, state, [{ json: message('@x:t', 1), stream_ordering: 1 }], first.decide);
    expect(first.seen[0]!.ctx).toMatchObject({ roomMemberCount: 2, displayName: 'Me Myself', senderPowerLevel: 5 });

    const overlay = state.overlay();
    overlay.append(stored('m.room.member', '@x:t', { membership: 'join' }), 4);
    overlay.append(stored('m.room.member', ME, { membership: 'join', displayname: 'New Name' }), 5);
    overlay.append(stored('m.room.power_levels', '', { users: { '@x:t': 70 } }), 6);
    overlay.commit();

    const second = recording();
    countNotifications(ME, state, [{ json: message('@x:t', 2), stream_ordering: 2 }], second.decide);
    expect(second.seen[0]!.ctx).toEqual({
      userId: ME,
      displayName: 'New Name',
      roomMemberCount: 3,
      senderPowerLevel: 70,
      notificationLevels: undefined,
    });
  });

  it('advances every user over the same cached rows, parsing each row once', () => {
    const row = (n: number, sender: string): RecentRow => ({
      event_id: `$e${n}`,
      stream_ordering: n,
      json: message(sender, n),
      unsigned: null,
      txn_device: null,
      txn_id: null,
      room_version: '11',
      redacted_by: null,
      redaction_json: null,
    });
    const rows = [row(1, '@mod:t'), row(2, ME), row(3, '@other:t')];
    const recent = {
      range: (_: string, from: number, to: number) => rows.filter((r) => r.stream_ordering > from && r.stream_ordering <= to),
    };
    const counter = new UnreadCounter(recent as unknown as RecentEvents);
    const state = room();
    const { seen, decide } = recording();
    for (const user of [ME, '@mod:t']) counter.compute(user, '!r:t', 0, 'v1', state, decide, [], undefined);

    expect(combined(counter.advance(ME, '!r:t', 3, 'v1', state, decide)!)).toEqual({ notification_count: 2, highlight_count: 1 });
    expect(combined(counter.advance('@mod:t', '!r:t', 3, 'v1', state, decide)!)).toEqual({ notification_count: 2, highlight_count: 0 });
    // Both users were handed the very same parsed event for a row, and it was left as parsed.
    const fromOther = seen.filter((s) => s.sender === '@other:t');
    expect(fromOther).toHaveLength(2);
    expect(fromOther[0]!.event).toBe(fromOther[1]!.event);
    expect(parsedPdu(rows[2]!)).toEqual(JSON.parse(rows[2]!.json));
    expect(parsedPdu(rows[2]!)).toBe(parsedPdu(rows[2]!));
    expect(parsedPdu({ ...rows[2]! })).not.toBe(parsedPdu(rows[2]!));
  });
});

describe('notification counts with threaded read receipts', () => {
  const inThread = (sender: string, n: number, root: string) =>
    JSON.stringify({
      type: 'm.room.message',
      sender,
      room_id: '!r:t',
      content: { body: `t${n}`, 'm.relates_to': { rel_type: 'm.thread', event_id: root } },
    });
  // Positions 1..6: main, root $a (main), reply in $a, main, reply in $b, reply in $a.
  const events = [
    { json: message('@x:t', 1), stream_ordering: 1 },
    { json: message('@x:t', 2), stream_ordering: 2 },
    { json: inThread('@x:t', 3, '$a'), stream_ordering: 3 },
    { json: message('@x:t', 4), stream_ordering: 4 },
    { json: inThread('@x:t', 5, '$b'), stream_ordering: 5 },
    { json: inThread('@mod:t', 6, '$a'), stream_ordering: 6 },
  ];
  const count = (reads?: { unthreaded?: number; main?: number; threads?: [string, number][] }) =>
    countNotifications(
      ME,
      room(),
      events,
      recording().decide,
      reads && { unthreaded: reads.unthreaded ?? 0, main: reads.main ?? 0, threads: new Map(reads.threads ?? []) },
    );
  const c = (n: number, h = 0) => ({ notification_count: n, highlight_count: h });

  it('counts the main timeline and each thread apart, thread roots on the main timeline', () => {
    const counts = count();
    expect(counts.main).toEqual(c(3));
    expect(counts.threads).toEqual(
      new Map([
        ['$a', c(2, 1)],
        ['$b', c(1)],
      ]),
    );
    expect(combined(counts)).toEqual(c(6, 1));
  });

  it('a "main" receipt reads only the main timeline; a thread receipt only its thread; an unthreaded one everything before it', () => {
    const main = count({ main: 4 });
    expect(main.main).toEqual(c(0));
    expect(main.threads).toEqual(
      new Map([
        ['$a', c(2, 1)],
        ['$b', c(1)],
      ]),
    );

    const threadA = count({ threads: [['$a', 6]] });
    expect(threadA.main).toEqual(c(3));
    expect(threadA.threads).toEqual(new Map([['$b', c(1)]]));

    const unthreaded = count({ unthreaded: 3, threads: [['$a', 1]] });
    expect(unthreaded.main).toEqual(c(1)); // position 4
    expect(unthreaded.threads).toEqual(
      new Map([
        ['$a', c(1, 1)],
        ['$b', c(1)],
      ]),
    ); // 6 and 5
  });
});
