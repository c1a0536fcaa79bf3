import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../../homeserver/storage/db.js';
import { migrateAll } from '../../../homeserver/storage/open-database.js';
import type { BuiltEvent } from '../../../homeserver/services/rooms/event-builder.js';
import { EventCommitter, type Chain } from '../../../homeserver/services/rooms/event-committer.js';
import { freshSchemaDb } from '../../helpers/database.js';

/**
 * A lone message goes through hs_commit_one_event (migration 0017), several through the array
 * statement: both must write, refuse and report exactly alike, whichever path a send happens to take.
 */
describe('the one-event and the batch commit paths', () => {
  let db: Db & { schema: string };
  let seq = 0;

  beforeAll(async () => {
    db = await freshSchemaDb(4);
    await migrateAll(db);
  });
  afterAll(async () => {
    await db?.close();
  });

  const message = (roomId: string, depth: number, txnId?: string): BuiltEvent => {
    const eventId = `$m${++seq}`;
    const pdu = { room_id: roomId, type: 'm.room.message', sender: '@u:t', origin_server_ts: 1000 + seq, content: { body: `b${seq}` } };
    const draft = { type: pdu.type, content: pdu.content, sender: '@u:t', txn: txnId ? { deviceId: 'DEV', txnId } : undefined };
    return { eventId, pdu, depth, json: JSON.stringify(pdu), unsigned: { n: seq }, draft } as unknown as BuiltEvent;
  };

  const room = async (id: string) => {
    await db.query(
      `INSERT INTO hs_rooms (room_id, room_version, creator, head_event_id, head_depth, created_ts) VALUES ($1, '10', '@u:t', 'h0', 0, 0)`,
      [id],
    );
  };

  const stored = async (eventIds: string[]) =>
    (
      await db.query(
        `SELECT e.event_id, e.room_id, e.type, e.sender, e.origin_server_ts, e.depth, e.json, e.unsigned, e.txn_device, e.txn_id, e.silent,
                t.txn_id AS recorded_txn, r.head_event_id
         FROM hs_events e LEFT JOIN hs_event_txns t ON t.event_id = e.event_id JOIN hs_rooms r ON r.room_id = e.room_id
         WHERE e.event_id = ANY($1) ORDER BY e.stream_ordering`,
        [eventIds],
      )
    ).rows;

  for (const size of [1, 2] as const) {
    it(`${size === 1 ? 'one event' : 'a batch of two'}: written with its txn id, then a retry is a duplicate and a moved head is stale`, async () => {
      const roomId = `!p${size}:t`;
      await room(roomId);
      const committed: number[] = [];
      // Records the statement names, to prove which path the commit took.
      const names: (string | undefined)[] = [];
      const spy = Object.create(db) as Db;
      spy.query = (sql: string, params?: unknown[], name?: string) => (names.push(name), db.query(sql, params, name));
      const committer = new EventCommitter(spy, (events) => committed.push(...events.map((e) => e.streamOrdering)));
      const events = Array.from({ length: size }, (_, i) => message(roomId, i + 1, `txn-${size}-${i}`));
      const chain: Chain = { roomId, expectedHead: 'h0', events, silentEventIds: [events[0]!.eventId] };

      const first = await committer.commit(chain);
      expect(first.kind).toBe('committed');
      expect(names).toEqual([size === 1 ? 'hs_commit_one_event' : 'hs_commit_simple']);
      const written = first.kind === 'committed' ? first.events : [];
      expect(written.map((e) => e.eventId)).toEqual(events.map((e) => e.eventId));
      expect(written.every((e) => e.streamOrdering > 0)).toBe(true);
      expect(committed).toEqual(written.map((e) => e.streamOrdering));
      const rows = await stored(events.map((e) => e.eventId));
      expect(rows).toEqual(
        events.map((e, i) => ({
          event_id: e.eventId,
          room_id: roomId,
          type: 'm.room.message',
          sender: '@u:t',
          origin_server_ts: e.pdu.origin_server_ts,
          depth: i + 1,
          json: e.json,
          unsigned: JSON.stringify(e.unsigned),
          txn_device: 'DEV',
          txn_id: `txn-${size}-${i}`,
          silent: i === 0,
          recorded_txn: `txn-${size}-${i}`,
          head_event_id: events.at(-1)!.eventId,
        })),
      );

      // The same transaction ids again (a client retry): nothing written, the first ids reported.
      const retry = events.map((e, i) => ({ ...message(roomId, size + i + 1), draft: e.draft }) as BuiltEvent);
      const again = await committer.commit({ roomId, expectedHead: events.at(-1)!.eventId, events: retry });
      expect(again.kind).toBe('duplicate');
      if (again.kind === 'duplicate') expect([...again.existing.values()].sort()).toEqual(events.map((e) => e.eventId).sort());
      expect(await stored(retry.map((e) => e.eventId))).toEqual([]);

      // A head that moved: stale, nothing written, the txn id stays free.
      const late = Array.from({ length: size }, (_, i) => message(roomId, 10 + i, `late-${size}-${i}`));
      expect((await committer.commit({ roomId, expectedHead: 'h0', events: late })).kind).toBe('stale');
      expect(await stored(late.map((e) => e.eventId))).toEqual([]);
      const free = await db.query('SELECT 1 FROM hs_event_txns WHERE txn_id LIKE $1', [`late-${size}-%`]);
      expect(free.rowCount).toBe(0);
    });
  }

  it('an event without a transaction id (appservice or server-made) records none', async () => {
    await room('!nt:t');
    const e = message('!nt:t', 1);
    const out = await new EventCommitter(db, () => {}).commit({ roomId: '!nt:t', expectedHead: 'h0', events: [e] });
    expect(out.kind).toBe('committed');
    const [row] = await stored([e.eventId]);
    expect(row).toMatchObject({ txn_device: null, txn_id: null, recorded_txn: null, silent: false });
  });
});
