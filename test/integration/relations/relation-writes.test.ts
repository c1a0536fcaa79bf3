import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../../homeserver/platform.js';
import { HistoryWriter } from '../../../homeserver/services/rooms/history-writer.js';
import { buildPlatform, makeUser, type TestUser } from '../../helpers/platform.js';
import { relationClient } from './fixture.js';

/** Every writer stores relations: the one-statement send, the transaction path and history import. */
let p: Platform;
let alice: TestUser;
const c = relationClient(() => p);

const relationsOf = async (parent: string) =>
  (
    await p.services.db.query<{ event_id: string; rel_type: string; aggregation_key: string | null; stream_ordering: number }>(
      'SELECT event_id, rel_type, aggregation_key, stream_ordering FROM hs_event_relations WHERE parent_id = $1 ORDER BY stream_ordering',
      [parent],
    )
  ).rows;

beforeAll(async () => {
  p = await buildPlatform();
  alice = await makeUser(p, 'alice');
});
afterAll(() => p.close());

describe('relation rows', () => {
  it('a plain send stores its relation with position, sender, type and annotation key; malformed relations are ignored', async () => {
    const room = await c.createRoom(alice, {});
    const root = await c.message(alice, room, 'root');
    const reaction = await c.react(alice, room, root, '👍');
    await c.sendEvent(alice, room, 'm.room.message', { msgtype: 'm.text', body: 'x', 'm.relates_to': { rel_type: 'm.thread' } });
    await c.sendEvent(alice, room, 'm.room.message', { msgtype: 'm.text', body: 'y', 'm.relates_to': 'nonsense' });
    await c.sendEvent(alice, room, 'm.room.message', {
      msgtype: 'm.text',
      body: 'reply',
      'm.relates_to': { 'm.in_reply_to': { event_id: root } }, // a reply alone is no relation
    });
    const rows = await relationsOf(root);
    expect(rows).toHaveLength(1);
    const event = await p.services.rooms.store.getEvent(reaction);
    expect(rows[0]).toEqual({
      event_id: reaction,
      rel_type: 'm.annotation',
      aggregation_key: '👍',
      stream_ordering: event!.stream_ordering,
    });
  });

  it('a chain written in a transaction (with a state event) stores its relations', async () => {
    const room = await c.createRoom(alice, {});
    const root = await c.message(alice, room, 'root');
    const committed = await p.services.rooms.input.submit(room, [
      { type: 'm.room.topic', sender: alice.userId, state_key: '', content: { topic: 't' } },
      {
        type: 'm.room.message',
        sender: alice.userId,
        content: { msgtype: 'm.text', body: 'in thread', 'm.relates_to': { rel_type: 'm.thread', event_id: root } },
      },
    ]);
    expect((await relationsOf(root)).map((r) => [r.event_id, r.stream_ordering])).toEqual([
      [committed[1]!.eventId, committed[1]!.streamOrdering],
    ]);
  });

  it('history imported backwards stores its relations at their negative positions', async () => {
    const room = await c.createRoom(alice, {});
    const root = await c.message(alice, room, 'live root');
    const state = (await p.services.rooms.cache.get(room))!;
    const writer = new HistoryWriter(p.services.db, { serverName: p.services.serverName, key: p.services.signingKey });
    const [, reply] = await writer.insert(
      state,
      [
        { type: 'm.room.message', sender: alice.userId, content: { msgtype: 'm.text', body: 'old' } },
        {
          type: 'm.room.message',
          sender: alice.userId,
          content: { msgtype: 'm.text', body: 'old reply', 'm.relates_to': { rel_type: 'm.reference', event_id: root } },
        },
      ],
      [undefined, undefined],
    );
    const rows = await relationsOf(root);
    expect(rows.map((r) => r.event_id)).toEqual([reply]);
    expect(rows[0]!.stream_ordering).toBeLessThan(0);
  });
});
