import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../../homeserver/platform.js';
import { buildPlatform, call, enc, makeUser, type TestUser } from '../../helpers/platform.js';
import { specValidator } from '../../helpers/openapi/spec-validator.js';
import { relationClient } from './fixture.js';

let p: Platform;
let alice: TestUser;
let bob: TestUser;
const spec = await specValidator();
const c = relationClient(() => p);

const get = async (u: TestUser, url: string) => {
  const res = await call(p, u, 'GET', url);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  spec.assertResponse('GET', url, 200, res.body);
  return res.body;
};
type Ev = { event_id: string; unsigned: Record<string, any> };
const byId = (events: Ev[], id: string) => events.find((e) => e.event_id === id)!;

beforeAll(async () => {
  p = await buildPlatform();
  alice = await makeUser(p, 'alice');
  bob = await makeUser(p, 'bob');
});
afterAll(() => p.close());

describe('bundled aggregations', () => {
  let room: string;
  let root: string;
  let reply1: string;
  let reply2: string;
  let edit1: string;
  let edit2: string;
  let quote: string;
  let replyEdit: string;
  let sinceBefore: string;

  beforeAll(async () => {
    room = await c.createRoom(alice, { preset: 'public_chat' });
    await c.join(bob, room);
    sinceBefore = (await get(alice, '/_matrix/client/v3/sync?timeout=0')).next_batch;
    root = await c.message(alice, room, 'root');
    reply1 = await c.threadReply(bob, room, root, 'first reply');
    edit1 = await c.edit(alice, room, root, 'root v2');
    reply2 = await c.threadReply(bob, room, root, 'second reply');
    edit2 = await c.edit(alice, room, root, 'root v3');
    replyEdit = await c.edit(bob, room, reply2, 'second reply (edited)');
    await c.edit(bob, room, root, 'not yours'); // another sender's "edit" is not valid (spec)
    await c.react(bob, room, root, '👍'); // reactions are not bundled
    quote = await c.sendEvent(bob, room, 'm.room.message', {
      msgtype: 'm.text',
      body: 'see above',
      'm.relates_to': { rel_type: 'm.reference', event_id: root },
    });
  });

  const expectRootBundle = (e: Ev, viewer: TestUser) => {
    const rel = e.unsigned['m.relations'];
    expect(Object.keys(rel).sort()).toEqual(['m.reference', 'm.replace', 'm.thread']);
    expect(rel['m.thread'].count).toBe(2);
    expect(rel['m.thread'].latest_event.event_id).toBe(reply2);
    expect(rel['m.thread'].latest_event.content.body).toBe('second reply');
    // The latest reply carries its own edit, as Element's thread summary needs.
    expect(rel['m.thread'].latest_event.unsigned['m.relations']['m.replace'].event_id).toBe(replyEdit);
    // alice wrote the root, bob replied: both participated.
    expect(rel['m.thread'].current_user_participated).toBe(true);
    expect(rel['m.replace'].event_id).toBe(edit2);
    expect(rel['m.replace'].content['m.new_content'].body).toBe('root v3');
    expect(rel['m.reference']).toEqual({ chunk: [{ event_id: quote }] });
    expect(viewer).toBeDefined();
  };

  it('are in /event, /messages and /context', async () => {
    expectRootBundle(await get(alice, c.R(room, `/event/${enc(root)}`)), alice);
    const messages = await get(bob, c.R(room, '/messages?dir=b&limit=20'));
    expectRootBundle(byId(messages.chunk, root), bob);
    // Children without children of their own carry nothing.
    expect(byId(messages.chunk, reply1).unsigned['m.relations']).toBeUndefined();
    const context = await get(alice, c.R(room, `/context/${enc(reply1)}?limit=10`));
    expectRootBundle(byId(context.events_before, root), alice);
    expect(context.events_after.map((e: Ev) => e.event_id)).toContain(edit1);
  });

  it('are in initial and incremental sync timelines', async () => {
    const initial = await get(alice, '/_matrix/client/v3/sync?timeout=0');
    expectRootBundle(byId(initial.rooms.join[room].timeline.events, root), alice);
    const incremental = await get(bob, `/_matrix/client/v3/sync?timeout=0&since=${sinceBefore}`);
    expectRootBundle(byId(incremental.rooms.join[room].timeline.events, root), bob);
    // A limited timeline that starts after the root.
    const filter = enc(JSON.stringify({ room: { timeline: { limit: 8 } } }));
    const limited = await get(alice, `/_matrix/client/v3/sync?timeout=0&filter=${filter}&since=${sinceBefore}`);
    expect(limited.rooms.join[room].timeline.limited).toBe(true);
    expect(limited.rooms.join[room].timeline.events.map((e: Ev) => e.event_id)).toContain(reply1);
    expect(byId(limited.rooms.join[room].timeline.events, root)).toBeUndefined();
    // Only reply2 has a child of its own (its edit), and it is bundled.
    for (const e of limited.rooms.join[room].timeline.events)
      expect(Object.keys(e.unsigned['m.relations'] ?? {}), e.event_id).toEqual(e.event_id === reply2 ? ['m.replace'] : []);
  });

  it('current_user_participated is false for a user who neither wrote the root nor replied', async () => {
    const carol = await makeUser(p, 'carol');
    await c.join(carol, room);
    const event = await get(carol, c.R(room, `/event/${enc(root)}`));
    expect(event.unsigned['m.relations']['m.thread'].current_user_participated).toBe(false);
  });

  it('a redacted edit or thread reply disappears from the aggregations', async () => {
    await c.redact(alice, room, edit2);
    await c.redact(bob, room, reply2);
    const event = await get(alice, c.R(room, `/event/${enc(root)}`));
    const rel = event.unsigned['m.relations'];
    expect(rel['m.replace'].event_id).toBe(edit1);
    expect(rel['m.thread'].count).toBe(1);
    expect(rel['m.thread'].latest_event.event_id).toBe(reply1);
    const thread = await get(alice, c.V1(room, `/relations/${enc(root)}/m.thread`));
    expect(thread.chunk.map((e: Ev) => e.event_id)).toEqual([reply1]);
    // A redacted original is shown without its edits.
    await c.redact(alice, room, root);
    const redacted = await get(alice, c.R(room, `/event/${enc(root)}`));
    expect(redacted.unsigned['m.relations']['m.replace']).toBeUndefined();
    expect(redacted.unsigned['m.relations']['m.thread'].count).toBe(1);
  });

  it('a woken sync of a plain message makes no aggregation query', async () => {
    const quiet = await c.createRoom(alice, {});
    const since = (await get(alice, '/_matrix/client/v3/sync?timeout=0')).next_batch;
    const queries: string[] = [];
    const db = p.services.db as unknown as { query: (...a: unknown[]) => Promise<unknown> };
    const original = db.query.bind(db);
    db.query = (sql: unknown, ...rest: unknown[]) => {
      // Relation reads (the commit of a child also names the table, in its INSERT CTE).
      if (typeof sql === 'string' && /JOIN hs_event_relations/.test(sql)) queries.push(sql);
      return original(sql, ...rest);
    };
    try {
      const waiting = call(p, alice, 'GET', `/_matrix/client/v3/sync?timeout=5000&since=${since}`);
      await new Promise((r) => setTimeout(r, 50));
      const plain = await c.message(alice, quiet, 'nothing related');
      const res = await waiting;
      expect(res.body.rooms.join[quiet].timeline.events.map((e: Ev) => e.event_id)).toContain(plain);
      expect(queries).toEqual([]);
      // A child whose parent is not in the timeline needs no query either...
      const since2 = res.body.next_batch;
      const waiting2 = call(p, alice, 'GET', `/_matrix/client/v3/sync?timeout=5000&since=${since2}`);
      await new Promise((r) => setTimeout(r, 50));
      const reply = await c.threadReply(alice, quiet, plain, 'now related');
      const res2 = await waiting2;
      expect(res2.body.rooms.join[quiet].timeline.events.map((e: Ev) => e.event_id)).toEqual([reply]);
      expect(queries).toEqual([]);
      // ...while a timeline holding a parent and its child asks once, and bundles.
      const root2 = await c.message(alice, quiet, 'root 2');
      const reply2 = await c.threadReply(alice, quiet, root2, 'reply 2');
      const res3 = await get(alice, `/_matrix/client/v3/sync?timeout=0&since=${res2.body.next_batch}`);
      const events = res3.rooms.join[quiet].timeline.events as Ev[];
      expect(events.map((e) => e.event_id)).toEqual([root2, reply2]);
      expect(byId(events, root2).unsigned['m.relations']['m.thread'].latest_event.event_id).toBe(reply2);
      expect(queries).toHaveLength(1);
    } finally {
      db.query = original;
    }
  });
});
