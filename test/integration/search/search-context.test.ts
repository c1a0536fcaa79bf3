import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import type { Platform } from '../../../homeserver/platform.js';
import { buildPlatform, call, enc, makeUser, type TestUser } from '../../helpers/platform.js';
import { specValidator } from '../../helpers/openapi/spec-validator.js';

let p: Platform;
let alice: TestUser;
let carol: TestUser;
const spec = await specValidator();
const R = (roomId: string, rest = '') => `/_matrix/client/v3/rooms/${enc(roomId)}${rest}`;
let txn = 0;

/** Event ids of the fixture, by name. */
const ev: Record<string, string> = {};
let roomA: string;
let roomB: string;

async function send(u: TestUser, roomId: string, name: string, content: Record<string, unknown>, type = 'm.room.message') {
  const res = await call(p, u, 'PUT', R(roomId, `/send/${type}/c${++txn}`), content);
  expect(res.status).toBe(200);
  ev[name] = res.body.event_id;
}
const say = (u: TestUser, roomId: string, name: string, body = name) => send(u, roomId, name, { msgtype: 'm.text', body });

async function memberEvents(roomId: string, userId: string): Promise<string[]> {
  const { rows } = await p.db.query<{ event_id: string }>(
    `SELECT event_id FROM hs_events WHERE room_id = $1 AND type = 'm.room.member' AND state_key = $2 ORDER BY stream_ordering`,
    [roomId, userId],
  );
  return rows.map((r) => r.event_id);
}

async function positionOf(eventId: string): Promise<number> {
  const { rows } = await p.db.query<{ p: number }>('SELECT stream_ordering AS p FROM hs_events WHERE event_id = $1', [eventId]);
  return Number(rows[0]!.p);
}

async function search(criteria: Record<string, unknown>) {
  const url = '/_matrix/client/v3/search';
  const res = await call(p, carol, 'POST', url, { search_categories: { room_events: criteria } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  spec.assertResponse('POST', url, 200, res.body);
  return res.body.search_categories.room_events;
}

type ClientEventJson = { event_id: string; content: Record<string, unknown>; unsigned: Record<string, any> };
interface Ctx {
  events_before: ClientEventJson[];
  events_after: ClientEventJson[];
  start: string;
  end: string;
  profile_info?: Record<string, unknown>;
}
type Result = { result: { event_id: string; room_id: string }; context: Ctx };

const idsOf = (events: { event_id: string }[]) => events.map((e) => e.event_id);
/** Ages (`unsigned.age`, also of a redaction's event) differ between two reads of one event: everything else must not. */
const withoutAge = (events: unknown) => JSON.parse(JSON.stringify(events, (key, value) => (key === 'age' ? undefined : value)));

beforeAll(async () => {
  p = await buildPlatform();
  alice = await makeUser(p, 'alice');
  carol = await makeUser(p, 'carol');

  // Room A, shared history: carol reads all of it. An edit (bundled into its original), a redaction,
  // and carol's display name changing between the hits (profiles are as of each context's end).
  roomA = (await call(p, alice, 'POST', '/_matrix/client/v3/createRoom', { invite: [carol.userId] })).body.room_id;
  expect((await call(p, carol, 'POST', R(roomA, '/join'), {})).status).toBe(200);
  await say(alice, roomA, 'a0', 'opening words');
  await say(alice, roomA, 'a1', 'kiwi one');
  await say(carol, roomA, 'a2', 'between');
  await say(carol, roomA, 'a3', 'kiwi two');
  await send(carol, roomA, 'edit', {
    msgtype: 'm.text',
    body: '* between, edited',
    'm.new_content': { msgtype: 'm.text', body: 'between, edited' },
    'm.relates_to': { rel_type: 'm.replace', event_id: ev.a2 },
  });
  await say(alice, roomA, 'a4', 'kiwi three');
  await say(alice, roomA, 'a5', 'closing');
  const redaction = await call(p, alice, 'PUT', R(roomA, `/redact/${enc(ev.a5!)}/c${++txn}`), {});
  ev.redaction = redaction.body.event_id;
  const rename = await call(p, carol, 'PUT', R(roomA, `/state/m.room.member/${enc(carol.userId)}`), {
    membership: 'join',
    displayname: 'Carol C.',
  });
  ev.rename = rename.body.event_id;
  await say(alice, roomA, 'a6', 'kiwi four');

  // Room B, joined history: carol sees from her join to her leave only.
  roomB = (
    await call(p, alice, 'POST', '/_matrix/client/v3/createRoom', {
      preset: 'public_chat',
      initial_state: [{ type: 'm.room.history_visibility', content: { history_visibility: 'joined' } }],
    })
  ).body.room_id;
  await say(alice, roomB, 'b0', 'kiwi before carol');
  await say(alice, roomB, 'b1', 'hidden filler');
  expect((await call(p, carol, 'POST', R(roomB, '/join'), {})).status).toBe(200);
  await say(alice, roomB, 'b2', 'kiwi first seen');
  await say(alice, roomB, 'b3', 'middle');
  await say(alice, roomB, 'b4', 'kiwi last seen');
  expect((await call(p, carol, 'POST', R(roomB, '/leave'), {})).status).toBe(200);
  await say(alice, roomB, 'b5', 'kiwi after carol left');
  [ev.joinB = '', ev.leaveB = ''] = await memberEvents(roomB, carol.userId);
  const { rows } = await p.db.query<{ event_id: string }>(
    `SELECT event_id FROM hs_events WHERE room_id = $1 AND type = 'm.room.history_visibility'`,
    [roomB],
  );
  ev.visibilityB = rows[0]!.event_id;
  ev.joinA = (await memberEvents(roomA, carol.userId))[1]!; // after the invite
});
afterAll(() => p.close());

const criteria = (limit: number) => ({
  search_term: 'kiwi',
  order_by: 'recent',
  filter: { limit },
  event_context: { before_limit: 2, after_limit: 2, include_profile: true },
});

it('gives each hit of two rooms exactly the visible events around it, its tokens and profiles', async () => {
  const res = await search(criteria(10));
  const results = res.results as Result[];
  expect(results.map((r) => r.result.event_id)).toEqual([ev.b4, ev.b2, ev.a6, ev.a4, ev.a3, ev.a1]);
  const byHit = new Map(results.map((r) => [r.result.event_id, r.context]));
  const around = (hit: string) => [idsOf(byHit.get(hit)!.events_before), idsOf(byHit.get(hit)!.events_after)];

  expect(around(ev.a1!)).toEqual([
    [ev.a0, ev.joinA],
    [ev.a2, ev.a3],
  ]);
  expect(around(ev.a3!)).toEqual([
    [ev.a2, ev.a1],
    [ev.edit, ev.a4],
  ]);
  expect(around(ev.a4!)).toEqual([
    [ev.edit, ev.a3],
    [ev.a5, ev.redaction],
  ]);
  expect(around(ev.a6!)).toEqual([[ev.rename, ev.redaction], []]);
  // Joined history: nothing sent under it before carol's join, nor after her leave (her own
  // membership shows); the room's creation happened under the default shared history, so shows.
  expect(around(ev.b2!)).toEqual([
    [ev.joinB, ev.visibilityB],
    [ev.b3, ev.b4],
  ]);
  expect(around(ev.b4!)).toEqual([[ev.b3, ev.b2], [ev.leaveB]]);

  // Bundled and redacted as /messages shows them.
  const a3 = byHit.get(ev.a3!)!;
  expect(a3.events_before[0]!.unsigned['m.relations']['m.replace'].event_id).toBe(ev.edit);
  expect(byHit.get(ev.a4!)!.events_after[0]!.content).toEqual({}); // a5, redacted

  // Tokens: past the context when it is full, at the hit when history ran out.
  const s = async (name: string, delta = 0) => `s${(await positionOf(ev[name]!)) + delta}`;
  expect([a3.start, a3.end]).toEqual([await s('a1', -1), await s('a4')]);
  expect([byHit.get(ev.a6!)!.start, byHit.get(ev.a6!)!.end]).toEqual([await s('redaction', -1), await s('a6')]);
  expect([byHit.get(ev.b2!)!.start, byHit.get(ev.b2!)!.end]).toEqual([await s('visibilityB', -1), await s('b4')]);
  expect([byHit.get(ev.b4!)!.start, byHit.get(ev.b4!)!.end]).toEqual([await s('b2', -1), await s('b4')]);

  // Profiles as of each context's last event: carol renamed herself between a4's context and a6.
  expect(a3.profile_info).toEqual({ [alice.userId]: { displayname: 'alice' }, [carol.userId]: { displayname: 'carol' } });
  expect(byHit.get(ev.a6!)!.profile_info).toEqual({
    [alice.userId]: { displayname: 'alice' },
    [carol.userId]: { displayname: 'Carol C.' },
  });
  // At carol's leave (b4's last event), her member event carries no profile.
  expect(byHit.get(ev.b4!)!.profile_info).toEqual({ [alice.userId]: { displayname: 'alice' }, [carol.userId]: {} });
});

it('is what /messages pages to from each hit, backwards and forwards', async () => {
  const results = (await search(criteria(10))).results as Result[];
  for (const { result, context } of results) {
    const roomId = result.room_id;
    const pos = await positionOf(result.event_id);
    const back = await call(p, carol, 'GET', R(roomId, `/messages?dir=b&from=s${pos - 1}&limit=2`));
    const forth = await call(p, carol, 'GET', R(roomId, `/messages?dir=f&from=s${pos}&limit=2`));
    expect(withoutAge(context.events_before)).toEqual(withoutAge(back.body.chunk));
    expect(withoutAge(context.events_after)).toEqual(withoutAge(forth.body.chunk));
    expect(context.start).toBe(back.body.end ?? `s${pos - 1}`);
    expect(context.end).toBe(forth.body.end ?? `s${pos}`);
  }
});

it('reads the context of a page with a fixed number of statements, not two /messages per hit', async () => {
  const statements = vi.spyOn(p.db, 'query');
  const countFor = async (limit: number) => {
    statements.mockClear();
    const res = await search(criteria(limit));
    expect(res.results).toHaveLength(limit);
    return statements.mock.calls.length;
  };
  // Hits in both rooms either way (recent first: b4, b2, then room A's).
  const few = await countFor(3);
  const many = await countFor(6);
  statements.mockRestore();
  expect(many).toBe(few);
});

it('walks each room by its own index, not by stream position through other rooms (EXPLAIN of the statements it runs)', async () => {
  // A busy room written after the fixture: the events after room A's hits are all its own. Rows go
  // straight into hs_events (the last test of the file: nothing reads them afterwards).
  const busy = (await call(p, alice, 'POST', '/_matrix/client/v3/createRoom', {})).body.room_id;
  await p.db.query(
    `INSERT INTO hs_events (event_id, room_id, type, sender, origin_server_ts, depth, json)
     SELECT '$busy' || i, $1, 'm.room.message', $2, i, i,
            json_build_object('type', 'm.room.message', 'content', json_build_object('body', 'busy ' || i))::text
     FROM generate_series(1, 20000) i`,
    [busy, alice.userId],
  );
  await p.db.query('ANALYZE hs_events');
  const plans: string[] = [];
  const query = p.db.query.bind(p.db);
  const spy = vi.spyOn(p.db, 'query').mockImplementation(async (sql: string, params?: unknown[], name?: string) => {
    if (sql.includes('CROSS JOIN LATERAL') && sql.includes('vis(lo, hi)')) {
      const { rows } = await query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`, params);
      plans.push(rows.map((r) => r['QUERY PLAN']).join('\n'));
    }
    return query(sql, params, name);
  });
  try {
    await search(criteria(10));
  } finally {
    spy.mockRestore();
  }
  expect(plans).toHaveLength(2); // one statement per room
  for (const plan of plans) {
    expect(plan).toContain('Index Scan Backward using hs_events_room_stream');
    expect(plan).toMatch(/Index Scan using hs_events_room_stream/);
    expect(plan).not.toContain('hs_events_pkey');
  }
});
