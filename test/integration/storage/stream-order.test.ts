import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDb, type Db } from '../../../homeserver/storage/db.js';
import { migrateAll } from '../../../homeserver/storage/open-database.js';
import type { BuiltEvent } from '../../../homeserver/services/rooms/event-builder.js';
import { EventCommitter } from '../../../homeserver/services/rooms/event-committer.js';
import { freshSchemaDb, TEST_DATABASE_URL } from '../../helpers/database.js';

/**
 * The events stream invariant readers rely on: a reader that sees position N sees every position
 * below N, even with two processes (two pools, two committers) writing concurrently through both
 * commit paths (the one-statement path for messages, the transaction for state events).
 */
describe('events stream: positions commit in order', () => {
  let db: Db & { schema: string };
  let other: Db;
  let seq = 0;

  beforeAll(async () => {
    db = await freshSchemaDb(8);
    await migrateAll(db);
    other = await openDb({ connection: { connectionString: TEST_DATABASE_URL }, poolSize: 8, schema: db.schema });
  });
  afterAll(async () => {
    await other?.close();
    await db?.close();
  });

  const event = (roomId: string, depth: number, state: boolean, txn?: string): BuiltEvent => {
    const eventId = `$e${++seq}`;
    const pdu = { room_id: roomId, type: state ? 'm.room.topic' : 'm.room.message', sender: '@u:t', origin_server_ts: 1, content: {} };
    if (state) Object.assign(pdu, { state_key: '' });
    const draft = { type: pdu.type, content: {}, sender: '@u:t', txn: txn ? { deviceId: 'D', txnId: txn } : undefined };
    return { eventId, pdu, depth, json: '{}', draft } as unknown as BuiltEvent;
  };

  const createRooms = async (ids: string[]) => {
    await db.query(
      `INSERT INTO hs_rooms (room_id, room_version, creator, head_event_id, head_depth, created_ts)
       SELECT r, '10', '@u:t', 'h0', 0, 0 FROM unnest($1::text[]) AS r`,
      [ids],
    );
  };

  it('a reader never sees a position before a smaller one commits', async () => {
    const rooms = Array.from({ length: 32 }, (_, i) => `!r${i}:t`);
    await createRooms(rooms);
    const committers = [new EventCommitter(db, () => {}), new EventCommitter(other, () => {})];
    let writing = true;
    const seen: number[] = [];
    const reader = (async () => {
      let cursor = 0;
      while (writing) {
        const { rows } = await db.query<{ p: number }>('SELECT stream_ordering AS p FROM hs_events WHERE stream_ordering > $1 ORDER BY 1', [
          cursor,
        ]);
        for (const r of rows) seen.push(r.p);
        if (rows.length) cursor = rows[rows.length - 1]!.p;
      }
      const { rows } = await db.query<{ p: number }>('SELECT stream_ordering AS p FROM hs_events WHERE stream_ordering > $1 ORDER BY 1', [
        cursor,
      ]);
      for (const r of rows) seen.push(r.p);
    })();
    await Promise.all(
      rooms.map(async (roomId, i) => {
        let head = 'h0';
        for (let round = 0; round < 25; round++) {
          const events = Array.from({ length: 1 + (round % 3) }, (_, k) =>
            event(roomId, round * 3 + k + 1, (round + i) % 7 === 0 && k === 0),
          );
          const outcome = await committers[i % 2]!.commit({ roomId, expectedHead: head, events });
          expect(outcome.kind).toBe('committed');
          head = events[events.length - 1]!.eventId;
        }
      }),
    );
    writing = false;
    await reader;
    const { rows } = await db.query<{ p: number }>('SELECT stream_ordering AS p FROM hs_events ORDER BY 1');
    expect(rows.length).toBe(32 * 49); // 25 rounds of 1, 2, 3, 1, ... events
    expect(seen).toEqual(rows.map((r) => r.p));
  });

  it('of two writers with the same expected head one wins; the loser writes no event and no txn id', async () => {
    await createRooms(['!race:t']);
    const [a, b] = [new EventCommitter(db, () => {}), new EventCommitter(other, () => {})];
    const outcomes = await Promise.all([
      a.commit({ roomId: '!race:t', expectedHead: 'h0', events: [event('!race:t', 1, false, 'ta')] }),
      b.commit({ roomId: '!race:t', expectedHead: 'h0', events: [event('!race:t', 1, false, 'tb')] }),
      // Another room in the same group is unaffected by the lost compare-and-set.
      a.commit({ roomId: '!r0:t', expectedHead: 'nope', events: [event('!r0:t', 99, false, 'tc')] }),
    ]);
    expect(outcomes.map((o) => o.kind).sort()).toEqual(['committed', 'stale', 'stale']);
    const { rows } = await db.query<{ n: number; t: number }>(
      `SELECT (SELECT count(*)::int FROM hs_events WHERE room_id = '!race:t') AS n,
              (SELECT count(*)::int FROM hs_event_txns WHERE txn_id IN ('ta', 'tb', 'tc')) AS t`,
    );
    expect(rows[0]).toEqual({ n: 1, t: 1 });
  });
});
