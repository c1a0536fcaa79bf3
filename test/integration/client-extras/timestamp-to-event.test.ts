import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../../homeserver/platform.js';
import { specValidator } from '../../helpers/openapi/spec-validator.js';
import { buildPlatform, call, enc, makeUser, type TestUser } from '../../helpers/platform.js';

const spec = await specValidator();
const V3 = '/_matrix/client/v3';
const lookupUrl = (roomId: string, query: string) => `/_matrix/client/v1/rooms/${enc(roomId)}/timestamp_to_event?${query}`;

let p: Platform;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;
let roomId: string;
let txn = 0;
/** alice's messages in order, each with its origin_server_ts (distinct: sent a few ms apart). */
const sent: { eventId: string; ts: number }[] = [];
let bobJoin: { eventId: string; ts: number };

async function eventTs(user: TestUser, eventId: string) {
  return (await call(p, user, 'GET', `${V3}/rooms/${enc(roomId)}/event/${enc(eventId)}`)).body.origin_server_ts as number;
}

async function sendSpaced(body: string) {
  await new Promise((r) => setTimeout(r, 5));
  const res = await call(p, alice, 'PUT', `${V3}/rooms/${enc(roomId)}/send/m.room.message/t${++txn}`, { msgtype: 'm.text', body });
  const eventId = res.body.event_id as string;
  return { eventId, ts: await eventTs(alice, eventId) };
}

async function lookup(user: TestUser, room: string, query: string) {
  const res = await call(p, user, 'GET', lookupUrl(room, query));
  if (res.status === 200 || res.status === 404) spec.assertResponse('GET', lookupUrl(room, query), res.status, res.body);
  return res;
}

beforeAll(async () => {
  p = await buildPlatform();
  [alice, bob, carol] = [await makeUser(p, 'alice'), await makeUser(p, 'bob'), await makeUser(p, 'carol')];
  roomId = (await call(p, alice, 'POST', `${V3}/createRoom`, { preset: 'public_chat' })).body.room_id;
  // History visible to joined members only: bob, joining later, must not be pointed at earlier events.
  await call(p, alice, 'PUT', `${V3}/rooms/${enc(roomId)}/state/m.room.history_visibility/`, { history_visibility: 'joined' });
  for (const body of ['one', 'two', 'three']) sent.push(await sendSpaced(body));
  await new Promise((r) => setTimeout(r, 5));
  expect((await call(p, bob, 'POST', `${V3}/rooms/${enc(roomId)}/join`, {})).status).toBe(200);
  const state = await call(p, bob, 'GET', `${V3}/rooms/${enc(roomId)}/state`);
  const member = (state.body as { type: string; state_key: string; event_id: string; origin_server_ts: number }[]).find(
    (e) => e.type === 'm.room.member' && e.state_key === bob.userId,
  )!;
  bobJoin = { eventId: member.event_id, ts: member.origin_server_ts };
  sent.push(await sendSpaced('four'));
});
afterAll(() => p.close());

describe('GET /_matrix/client/v1/rooms/{roomId}/timestamp_to_event', () => {
  it('finds the event at or after ts (f) and at or before ts (b)', async () => {
    const [one, two, three] = sent as [(typeof sent)[0], (typeof sent)[0], (typeof sent)[0]];
    expect(two.ts).toBeGreaterThan(one.ts);
    expect(three.ts).toBeGreaterThan(two.ts);
    expect((await lookup(alice, roomId, `ts=${two.ts}&dir=f`)).body).toEqual({ event_id: two.eventId, origin_server_ts: two.ts });
    expect((await lookup(alice, roomId, `ts=${two.ts + 1}&dir=f`)).body).toEqual({ event_id: three.eventId, origin_server_ts: three.ts });
    expect((await lookup(alice, roomId, `ts=${two.ts}&dir=b`)).body).toEqual({ event_id: two.eventId, origin_server_ts: two.ts });
    expect((await lookup(alice, roomId, `ts=${three.ts - 1}&dir=b`)).body).toEqual({ event_id: two.eventId, origin_server_ts: two.ts });
  });

  it('dir defaults to f, as in Synapse', async () => {
    const two = sent[1]!;
    expect((await lookup(alice, roomId, `ts=${two.ts}`)).body.event_id).toBe(two.eventId);
  });

  it('404 M_NOT_FOUND when there is nothing in that direction', async () => {
    const after = await lookup(alice, roomId, `ts=${Date.now() + 3_600_000}&dir=f`);
    expect(after).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND' } });
    expect(await lookup(alice, roomId, 'ts=0&dir=b')).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND' } });
  });

  it('skips events the requester may not see', async () => {
    const state = (await call(p, alice, 'GET', `${V3}/rooms/${enc(roomId)}/state`)).body as {
      type: string;
      event_id: string;
      origin_server_ts: number;
    }[];
    const visibility = state.find((e) => e.type === 'm.room.history_visibility')!;
    // alice's messages came after history was limited to joined members, before bob joined: searching
    // back from them, bob gets the last event he may see (the visibility change, still under 'shared')...
    expect((await lookup(bob, roomId, `ts=${sent[2]!.ts}&dir=b`)).body).toEqual({
      event_id: visibility.event_id,
      origin_server_ts: visibility.origin_server_ts,
    });
    // ...and forward from them, his own join rather than the messages he may not see.
    expect((await lookup(bob, roomId, `ts=${sent[0]!.ts}&dir=f`)).body).toEqual({
      event_id: bobJoin.eventId,
      origin_server_ts: bobJoin.ts,
    });
    expect((await lookup(bob, roomId, `ts=${bobJoin.ts + 1}&dir=f`)).body.event_id).toBe(sent[3]!.eventId);
    // alice, joined throughout, gets the messages themselves.
    expect((await lookup(alice, roomId, `ts=${sent[0]!.ts}&dir=f`)).body.event_id).toBe(sent[0]!.eventId);
  });

  it('403 for a user who was never in the room, 404 for an unknown room, 401 without a token, 400 for a malformed room id', async () => {
    expect(await lookup(carol, roomId, 'ts=0&dir=f')).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });
    expect(await lookup(alice, '!nowhere:test.local', 'ts=0&dir=f')).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND' } });
    expect((await call(p, undefined, 'GET', lookupUrl(roomId, 'ts=0&dir=f'))).status).toBe(401);
    expect((await call(p, alice, 'GET', lookupUrl('not-a-room', 'ts=0&dir=f'))).status).toBe(400);
  });

  it.each([
    ['no ts', 'dir=f', 'M_MISSING_PARAM'],
    ['a ts that is not a number', 'ts=yesterday&dir=f', 'M_INVALID_PARAM'],
    ['a fractional ts', 'ts=1.5&dir=f', 'M_INVALID_PARAM'],
    ['a dir other than f or b', 'ts=0&dir=x', 'M_INVALID_PARAM'],
    ['a ts beyond what a timestamp can be', 'ts=99999999999999999999999&dir=f', 'M_INVALID_PARAM'],
  ])('400 %s for %s', async (_what, query, errcode) => {
    expect(await call(p, alice, 'GET', lookupUrl(roomId, query))).toMatchObject({ status: 400, body: { errcode } });
  });
});
