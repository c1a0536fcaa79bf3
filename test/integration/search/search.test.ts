import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../../homeserver/platform.js';
import { buildPlatform, call, enc, makeUser, type TestUser } from '../../helpers/platform.js';
import { specValidator } from '../../helpers/openapi/spec-validator.js';
import { searchPageSql } from '../../../homeserver/services/rooms/search/search-query.js';
import { prefixQuery } from '../../../homeserver/services/rooms/search/search-terms.js';

let p: Platform;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;
const spec = await specValidator();
const R = (roomId: string, rest = '') => `/_matrix/client/v3/rooms/${enc(roomId)}${rest}`;
let txn = 0;

async function send(u: TestUser, roomId: string, body: string, type = 'm.room.message'): Promise<string> {
  const res = await call(p, u, 'PUT', R(roomId, `/send/${type}/t${++txn}`), { msgtype: 'm.text', body });
  expect(res.status).toBe(200);
  return res.body.event_id;
}

async function createRoom(u: TestUser, body: Record<string, unknown> = {}): Promise<string> {
  const res = await call(p, u, 'POST', '/_matrix/client/v3/createRoom', body);
  expect(res.status).toBe(200);
  return res.body.room_id;
}

/** POST /search (room_events) as `u`; asserts 200 and the spec's schema. */
async function search(u: TestUser, criteria: Record<string, unknown>, nextBatch?: string) {
  const url = `/_matrix/client/v3/search${nextBatch !== undefined ? `?next_batch=${enc(nextBatch)}` : ''}`;
  const res = await call(p, u, 'POST', url, { search_categories: { room_events: criteria } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  spec.assertResponse('POST', url, 200, res.body);
  return res.body.search_categories.room_events;
}

const ids = (re: { results: { result: { event_id: string } }[] }) => re.results.map((r) => r.result.event_id);

beforeAll(async () => {
  p = await buildPlatform();
  alice = await makeUser(p, 'alice');
  bob = await makeUser(p, 'bob');
  carol = await makeUser(p, 'carol');
});
afterAll(() => p.close());

describe('POST /search', () => {
  it('ranks by relevance or orders by recency, with prefix matching and highlights', async () => {
    const roomId = await createRoom(alice);
    const dense = await send(alice, roomId, 'Walrus walrus WALRUS on the beach');
    const sparse = await send(alice, roomId, 'a single walrus in a long sentence about many other things entirely');
    await send(alice, roomId, 'nothing to see');

    const byRank = await search(alice, { search_term: 'walrus', filter: { rooms: [roomId] } });
    expect(ids(byRank)).toEqual([dense, sparse]);
    expect(byRank.count).toBe(2);
    expect(byRank.results[0].rank).toBeGreaterThan(byRank.results[1].rank);
    expect(byRank.results[0].result).toMatchObject({ room_id: roomId, sender: alice.userId, type: 'm.room.message' });
    expect(byRank.highlights.map((h: string) => h.toLowerCase())).toContain('walrus');

    const byRecent = await search(alice, { search_term: 'walrus', order_by: 'recent', filter: { rooms: [roomId] } });
    expect(ids(byRecent)).toEqual([sparse, dense]);

    // Prefixes match, every word must match, case does not matter.
    expect(ids(await search(alice, { search_term: 'WALR', filter: { rooms: [roomId] } })).sort()).toEqual([dense, sparse].sort());
    expect(ids(await search(alice, { search_term: 'walrus beach', filter: { rooms: [roomId] } }))).toEqual([dense]);
    // Punctuation only: nothing to look for, an empty answer rather than an error.
    expect((await search(alice, { search_term: '?!', filter: { rooms: [roomId] } })).results).toEqual([]);
  });

  it('searches room names and topics by key, and honours the filter', async () => {
    const roomId = await createRoom(alice, { name: 'Quokka island', topic: 'all about quokkas', invite: [bob.userId] });
    const other = await createRoom(bob);
    await call(p, bob, 'POST', R(roomId, '/join'), {});
    const fromAlice = await send(alice, roomId, 'quokka photos');
    const fromBob = await send(bob, roomId, 'quokka selfies');
    const elsewhere = await send(bob, other, 'quokka elsewhere');

    const all = await search(bob, { search_term: 'quokka' });
    expect(all.count).toBe(5); // name, topic, three messages
    const types = all.results.map((r: { result: { type: string } }) => r.result.type).sort();
    expect(types).toEqual(['m.room.message', 'm.room.message', 'm.room.message', 'm.room.name', 'm.room.topic']);

    const names = await search(bob, { search_term: 'quokka', keys: ['content.name'] });
    expect(names.results.map((r: { result: { type: string; content: { name: string } } }) => r.result.content.name)).toEqual([
      'Quokka island',
    ]);
    const topics = await search(bob, { search_term: 'quokka', keys: ['content.topic'] });
    expect(topics.results.map((r: { result: { type: string } }) => r.result.type)).toEqual(['m.room.topic']);

    const f = (filter: Record<string, unknown>) => search(bob, { search_term: 'quokka', keys: ['content.body'], filter });
    expect(ids(await f({ rooms: [other] }))).toEqual([elsewhere]);
    expect(ids(await f({ not_rooms: [other] })).sort()).toEqual([fromAlice, fromBob].sort());
    expect(ids(await f({ senders: [alice.userId] }))).toEqual([fromAlice]);
    expect(ids(await f({ not_senders: [alice.userId] })).sort()).toEqual([fromBob, elsewhere].sort());
    expect((await f({ types: ['m.room.name'] })).results).toEqual([]); // the key's type is filtered out
    expect((await search(bob, { search_term: 'quokka', filter: { types: ['m.room.t*'] } })).results).toHaveLength(1);
    expect((await search(bob, { search_term: 'quokka', filter: { not_types: ['m.room.message'] } })).results).toHaveLength(2);
    const limited = await f({ limit: 1 });
    expect(limited.results).toHaveLength(1);
    expect(limited.count).toBe(3);
    expect(limited.next_batch).toEqual(expect.any(String));
  });

  it('pages through next_batch in both orders without gaps or repeats', async () => {
    const roomId = await createRoom(alice);
    const sent: string[] = [];
    for (let i = 0; i < 7; i++) sent.push(await send(alice, roomId, `pagination marmot ${'marmot '.repeat(i % 3)}`));
    for (const order_by of ['rank', 'recent'] as const) {
      const seen: string[] = [];
      let token: string | undefined;
      let pages = 0;
      do {
        const page = await search(alice, { search_term: 'marmot', order_by, filter: { rooms: [roomId], limit: 3 } }, token);
        expect(page.count).toBe(7);
        seen.push(...ids(page));
        token = page.next_batch;
        pages++;
      } while (token);
      expect(pages).toBe(3);
      expect(new Set(seen).size).toBe(7);
      expect([...seen].sort()).toEqual([...sent].sort());
      // One request for everything gives the same order as the pages put together.
      const whole = await search(alice, { search_term: 'marmot', order_by, filter: { rooms: [roomId], limit: 7 } });
      expect(seen).toEqual(ids(whole));
      if (order_by === 'recent') expect(seen).toEqual([...sent].reverse());
    }
  });

  it('answers a bad next_batch or a bad body with 400', async () => {
    const bad = async (url: string, body: unknown) => {
      const res = await call(p, alice, 'POST', url, body);
      expect(res.status).toBe(400);
      return res.body.errcode;
    };
    const ok = { search_categories: { room_events: { search_term: 'x' } } };
    expect(await bad('/_matrix/client/v3/search?next_batch=garbage!', ok)).toBe('M_INVALID_PARAM');
    expect(await bad('/_matrix/client/v3/search?next_batch=bm90IGpzb24', ok)).toBe('M_INVALID_PARAM');
    const recentToken = Buffer.from(JSON.stringify({ o: 'recent', p: 5 })).toString('base64url');
    expect(await bad(`/_matrix/client/v3/search?next_batch=${recentToken}`, ok)).toBe('M_INVALID_PARAM'); // order_by is rank
    expect(await bad('/_matrix/client/v3/search', { search_categories: { room_events: { search_term: 42 } } })).toBe('M_BAD_JSON');
    expect(await bad('/_matrix/client/v3/search', { search_categories: { room_events: { search_term: 'x', order_by: 'best' } } })).toBe(
      'M_BAD_JSON',
    );
    expect(
      await bad('/_matrix/client/v3/search', { search_categories: { room_events: { search_term: 'x', keys: ['content.url'] } } }),
    ).toBe('M_BAD_JSON');
    expect(
      await bad('/_matrix/client/v3/search', { search_categories: { room_events: { search_term: 'x', filter: { limit: -1 } } } }),
    ).toBe('M_BAD_JSON');
    expect(await bad('/_matrix/client/v3/search', { search_categories: {} })).toBe('M_BAD_JSON');
    expect(await bad('/_matrix/client/v3/search', { search_categories: { room_events: {} } })).toBe('M_MISSING_PARAM');
    expect((await call(p, undefined, 'POST', '/_matrix/client/v3/search', ok)).status).toBe(401);
  });

  it('returns event context with profiles, the rooms state, and groups', async () => {
    await call(p, alice, 'PUT', `/_matrix/client/v3/profile/${enc(alice.userId)}/displayname`, { displayname: 'Alice A.' });
    const roomId = await createRoom(alice, { name: 'Context room', invite: [bob.userId] });
    await call(p, bob, 'POST', R(roomId, '/join'), {});
    const before = await send(bob, roomId, 'the message before');
    const hit = await send(alice, roomId, 'the ocelot message');
    const after1 = await send(bob, roomId, 'right after');
    await send(bob, roomId, 'further after');

    const res = await search(alice, {
      search_term: 'ocelot',
      event_context: { before_limit: 1, after_limit: 1, include_profile: true },
      include_state: true,
      groupings: { group_by: [{ key: 'room_id' }, { key: 'sender' }] },
    });
    expect(ids(res)).toEqual([hit]);
    const ctx = res.results[0].context;
    expect(ctx.events_before.map((e: { event_id: string }) => e.event_id)).toEqual([before]);
    expect(ctx.events_after.map((e: { event_id: string }) => e.event_id)).toEqual([after1]);
    expect(ctx.start).toEqual(expect.any(String));
    expect(ctx.end).toEqual(expect.any(String));
    expect(ctx.profile_info[alice.userId]).toEqual({ displayname: 'Alice A.' });
    expect(ctx.profile_info[bob.userId]).toEqual({ displayname: 'bob' });
    // The context tokens are /messages tokens: paging on from `end` continues after the context.
    const more = await call(p, alice, 'GET', R(roomId, `/messages?dir=f&from=${enc(ctx.end)}&limit=1`));
    expect(more.body.chunk[0].content.body).toBe('further after');

    const stateTypes = res.state[roomId].map((e: { type: string }) => e.type);
    expect(stateTypes).toContain('m.room.name');
    expect(Object.keys(res.state)).toEqual([roomId]);
    expect(res.groups.room_id[roomId]).toMatchObject({ results: [hit], order: 1, count: 1 });
    expect(res.groups.sender[alice.userId]).toMatchObject({ results: [hit], order: 1, count: 1 });
    expect(res.groups.room_id[roomId].next_batch).toBeUndefined();
  });

  it('pages inside a group with the group next_batch', async () => {
    const r1 = await createRoom(alice);
    const r2 = await createRoom(alice);
    const inR1 = [await send(alice, r1, 'gecko one'), await send(alice, r1, 'gecko two'), await send(alice, r1, 'gecko three')];
    const inR2 = await send(alice, r2, 'gecko four');
    const first = await search(alice, {
      search_term: 'gecko',
      order_by: 'recent',
      filter: { limit: 2 },
      groupings: { group_by: [{ key: 'room_id' }] },
    });
    expect(ids(first)).toEqual([inR2, inR1[2]]);
    expect(first.groups.room_id[r2]).toEqual({ results: [inR2], order: 1, count: 1 }); // no next_batch: r2 has no more
    const g1 = first.groups.room_id[r1];
    expect(g1).toMatchObject({ results: [inR1[2]], order: 2, count: 3 });
    const rest = await search(
      alice,
      { search_term: 'gecko', order_by: 'recent', filter: { limit: 2 }, groupings: { group_by: [{ key: 'room_id' }] } },
      g1.next_batch,
    );
    expect(ids(rest)).toEqual([inR1[1], inR1[0]]);
    expect(rest.next_batch).toBeUndefined();
  });

  it('never finds what the user could not read: joined visibility, leaving, redactions', async () => {
    const roomId = await createRoom(alice, {
      preset: 'public_chat',
      initial_state: [{ type: 'm.room.history_visibility', content: { history_visibility: 'joined' } }],
    });
    await send(alice, roomId, 'platypus before carol joined');
    expect((await search(carol, { search_term: 'platypus' })).results).toEqual([]); // not in the room at all
    await call(p, carol, 'POST', R(roomId, '/join'), {});
    const during = await send(alice, roomId, 'platypus while carol is here');
    const redacted = await send(alice, roomId, 'platypus soon redacted');
    expect((await call(p, alice, 'PUT', R(roomId, `/redact/${enc(redacted)}/x1`), {})).status).toBe(200);
    await call(p, carol, 'POST', R(roomId, '/leave'), {});
    await send(alice, roomId, 'platypus after carol left');

    const found = await search(carol, { search_term: 'platypus', order_by: 'recent' });
    expect(ids(found)).toEqual([during]);
    expect(found.count).toBe(1);
    // Exactly what /messages shows carol (redacted events appear there, but pruned: no body to find).
    const history = await call(p, carol, 'GET', R(roomId, '/messages?dir=b&limit=100'));
    const readable = history.body.chunk.filter((e: { content: { body?: string } }) => e.content.body?.includes('platypus'));
    expect(readable.map((e: { event_id: string }) => e.event_id)).toEqual([during]);
    // Alice (joined throughout) finds everything except the redacted event.
    expect((await search(alice, { search_term: 'platypus' })).count).toBe(3);

    // Shared visibility: a later joiner finds earlier history, as /messages shows it.
    const shared = await createRoom(alice, { preset: 'public_chat' });
    const early = await send(alice, shared, 'echidna from before');
    await call(p, bob, 'POST', R(shared, '/join'), {});
    expect(ids(await search(bob, { search_term: 'echidna' }))).toEqual([early]);
    // Forgotten rooms are not searched.
    await call(p, bob, 'POST', R(shared, '/leave'), {});
    await call(p, bob, 'POST', R(shared, '/forget'), {});
    expect((await search(bob, { search_term: 'echidna' })).results).toEqual([]);
  });

  it('finds nothing in encrypted payloads, and a body with U+0000 still sends', async () => {
    const roomId = await createRoom(alice);
    const enc1 = await call(p, alice, 'PUT', R(roomId, `/send/m.room.encrypted/t${++txn}`), {
      algorithm: 'm.megolm.v1.aes-sha2',
      ciphertext: 'tapir',
      sender_key: 'k',
      session_id: 's',
      device_id: 'D',
    });
    expect(enc1.status).toBe(200);
    expect((await search(alice, { search_term: 'tapir' })).results).toEqual([]);
    // jsonb cannot hold U+0000: the index expression must skip such an event, not fail its INSERT.
    const nul = await send(alice, roomId, 'tapir \u0000 with a NUL');
    expect(nul).toMatch(/^\$/);
    const plain = await send(alice, roomId, 'tapir without');
    expect(ids(await search(alice, { search_term: 'tapir' }))).toEqual([plain]);
  });

  it('is answered from the expression indexes (EXPLAIN of the statement /search runs)', async () => {
    const roomId = await createRoom(alice);
    const { text, params } = searchPageSql(
      {
        keys: ['content.body', 'content.name', 'content.topic'],
        tsquery: prefixQuery(['walrus']),
        ranges: [{ roomId, range: { lo: Number.MIN_SAFE_INTEGER, hi: Number.MAX_SAFE_INTEGER } }],
      },
      'rank',
      undefined,
      10,
    );
    // A room with 20,000 messages and a rare word: scanning the room and computing every vector
    // would be the planner's choice only if the index expressions did not match the query's.
    // Rows go straight into hs_events (the last test of the file: nothing reads them afterwards).
    await p.services.db.query(
      `INSERT INTO hs_events (event_id, room_id, type, sender, origin_server_ts, depth, json)
       SELECT '$filler' || i, $1, 'm.room.message', $2, i, i,
              json_build_object('type', 'm.room.message', 'content', json_build_object('body', 'filler text ' || i))::text
       FROM generate_series(1, 20000) i`,
      [roomId, alice.userId],
    );
    await p.services.db.query('ANALYZE hs_events');
    const { rows } = await p.services.db.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${text}`, params);
    const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
    expect(plan).toContain('Bitmap Index Scan on hs_events_search_body');
    expect(plan).toContain('Bitmap Index Scan on hs_events_search_name');
    expect(plan).toContain('Bitmap Index Scan on hs_events_search_topic');
  });
});
