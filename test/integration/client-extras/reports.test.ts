import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../../homeserver/platform.js';
import { specValidator } from '../../helpers/openapi/spec-validator.js';
import { buildPlatform, call, enc, makeUser, type TestUser } from '../../helpers/platform.js';

const spec = await specValidator();
const V3 = '/_matrix/client/v3';
const EVENT_REPORTS = '/_causeway/admin/v1/event_reports';
const ROOM_REPORTS = '/_causeway/admin/v1/room_reports';
const reportEventUrl = (roomId: string, eventId: string) => `${V3}/rooms/${enc(roomId)}/report/${enc(eventId)}`;
const reportRoomUrl = (roomId: string) => `${V3}/rooms/${enc(roomId)}/report`;

let p: Platform;
let alice: TestUser;
let bob: TestUser;
let admin: TestUser;
let roomId: string;
let otherRoomId: string;
/** Sent while history was visible to joined members only, before bob joined. */
let beforeBob: string;
let afterBob: string;
let redacted: string;
let txn = 0;

async function send(user: TestUser, room: string, body: string): Promise<string> {
  const res = await call(p, user, 'PUT', `${V3}/rooms/${enc(room)}/send/m.room.message/r${++txn}`, { msgtype: 'm.text', body });
  expect(res.status).toBe(200);
  return res.body.event_id;
}

async function reportEvent(user: TestUser, room: string, eventId: string, body: unknown) {
  const res = await call(p, user, 'POST', reportEventUrl(room, eventId), body);
  spec.assertResponse('POST', reportEventUrl(room, eventId), res.status, res.body);
  return res;
}

beforeAll(async () => {
  p = await buildPlatform();
  alice = await makeUser(p, 'alice');
  bob = await makeUser(p, 'bob');
  admin = await makeUser(p, 'admin');
  await p.db.query('UPDATE hs_users SET is_admin = true WHERE user_id = $1', [admin.userId]);
  await p.services.users.changed(admin.userId);

  roomId = (await call(p, alice, 'POST', `${V3}/createRoom`, { preset: 'public_chat', name: 'Reported room' })).body.room_id;
  await call(p, alice, 'PUT', `${V3}/rooms/${enc(roomId)}/state/m.room.history_visibility/`, { history_visibility: 'joined' });
  beforeBob = await send(alice, roomId, 'before bob');
  expect((await call(p, bob, 'POST', `${V3}/rooms/${enc(roomId)}/join`, {})).status).toBe(200);
  afterBob = await send(alice, roomId, 'after bob');
  redacted = await send(alice, roomId, 'soon gone');
  expect((await call(p, alice, 'PUT', `${V3}/rooms/${enc(roomId)}/redact/${enc(redacted)}/x1`, {})).status).toBe(200);
  otherRoomId = (await call(p, alice, 'POST', `${V3}/createRoom`, {})).body.room_id;
});
afterAll(() => p.close());

describe('POST /rooms/{roomId}/report/{eventId}', () => {
  it('stores a report of an event the reporter can see', async () => {
    const res = await reportEvent(bob, roomId, afterBob, { reason: 'spam', score: -100 });
    expect(res).toEqual({ status: 200, body: {} });
    const r0 = await call(p, bob, 'POST', reportEventUrl(roomId, afterBob).replace('/v3/', '/r0/'), {});
    expect(r0.status).toBe(200);
  });

  it.each([
    ['an event the reporter cannot see (history before their join)', () => [bob, roomId, beforeBob] as const],
    ['an event in a room the reporter is not in', () => [bob, otherRoomId, afterBob] as const],
    ['an event that does not exist', () => [bob, roomId, '$nope:test.local'] as const],
    ['an event under another room id', () => [alice, otherRoomId, afterBob] as const],
    ['a redacted event', () => [alice, roomId, redacted] as const],
    ['an unknown room', () => [bob, '!nowhere:test.local', afterBob] as const],
  ])('404 M_NOT_FOUND for %s', async (_what, args) => {
    const [user, room, eventId] = args();
    expect(await reportEvent(user, room, eventId, { reason: 'x' })).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND' } });
  });

  it('400 for a reason that is not a string or a score that is not an integer; 401 without a token', async () => {
    expect(await call(p, bob, 'POST', reportEventUrl(roomId, afterBob), { reason: 3 })).toMatchObject({
      status: 400,
      body: { errcode: 'M_BAD_JSON' },
    });
    expect(await call(p, bob, 'POST', reportEventUrl(roomId, afterBob), { score: 'bad' })).toMatchObject({
      status: 400,
      body: { errcode: 'M_BAD_JSON' },
    });
    expect(await call(p, bob, 'POST', reportEventUrl(roomId, afterBob), { score: 1.5 })).toMatchObject({
      status: 400,
      body: { errcode: 'M_BAD_JSON' },
    });
    expect(await call(p, bob, 'POST', reportEventUrl(roomId, afterBob), { score: 1e300 })).toMatchObject({
      status: 400,
      body: { errcode: 'M_BAD_JSON' },
    });
    expect((await call(p, undefined, 'POST', reportEventUrl(roomId, afterBob), {})).status).toBe(401);
  });
});

describe('POST /rooms/{roomId}/report (v1.13)', () => {
  it('stores a room report; the reporter need not be in the room', async () => {
    const res = await call(p, bob, 'POST', reportRoomUrl(otherRoomId), { reason: 'bad room' });
    expect(res).toEqual({ status: 200, body: {} });
    spec.assertResponse('POST', reportRoomUrl(otherRoomId), 200, res.body);
  });

  it('404 for an unknown room, 400 without a reason', async () => {
    const res = await call(p, bob, 'POST', reportRoomUrl('!nowhere:test.local'), { reason: 'x' });
    expect(res).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND' } });
    spec.assertResponse('POST', reportRoomUrl('!nowhere:test.local'), 404, res.body);
    expect(await call(p, bob, 'POST', reportRoomUrl(roomId), {})).toMatchObject({ status: 400, body: { errcode: 'M_MISSING_PARAM' } });
  });
});

describe('GET /_causeway/admin/v1/event_reports and room_reports', () => {
  it('are for server admins only', async () => {
    for (const url of [EVENT_REPORTS, ROOM_REPORTS]) {
      expect(await call(p, bob, 'GET', url)).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });
      expect((await call(p, undefined, 'GET', url)).status).toBe(401);
    }
  });

  it('list event reports newest first, with the reported event and room', async () => {
    await reportEvent(alice, roomId, afterBob, { reason: 'second' });
    const res = await call(p, admin, 'GET', EVENT_REPORTS);
    expect(res.status).toBe(200);
    expect(res.body.total).toBe(3);
    expect(res.body.next_token).toBeUndefined();
    expect(res.body.event_reports.map((r: { reason: string | null }) => r.reason)).toEqual(['second', null, 'spam']);
    expect(res.body.event_reports[2]).toEqual({
      id: expect.any(Number),
      received_ts: expect.any(Number),
      room_id: roomId,
      event_id: afterBob,
      user_id: bob.userId,
      reason: 'spam',
      score: -100,
      sender: alice.userId,
      name: 'Reported room',
      canonical_alias: null,
    });
  });

  it('page with from/limit/next_token, both directions, and filter by reporter and room', async () => {
    const first = await call(p, admin, 'GET', `${EVENT_REPORTS}?limit=2&dir=f`);
    expect(first.body).toMatchObject({ total: 3, next_token: 2 });
    expect(first.body.event_reports.map((r: { reason: string | null }) => r.reason)).toEqual(['spam', null]);
    const second = await call(p, admin, 'GET', `${EVENT_REPORTS}?limit=2&dir=f&from=${first.body.next_token}`);
    expect(second.body.next_token).toBeUndefined();
    expect(second.body.event_reports.map((r: { reason: string | null }) => r.reason)).toEqual(['second']);

    const byAlice = await call(p, admin, 'GET', `${EVENT_REPORTS}?user_id=${enc(alice.userId)}`);
    expect(byAlice.body).toMatchObject({ total: 1, event_reports: [{ user_id: alice.userId }] });
    const otherRoom = await call(p, admin, 'GET', `${EVENT_REPORTS}?room_id=${enc(otherRoomId)}`);
    expect(otherRoom.body).toEqual({ event_reports: [], total: 0 });
    const past = await call(p, admin, 'GET', `${EVENT_REPORTS}?from=10`);
    expect(past.body).toEqual({ event_reports: [], total: 3 });
  });

  it('list room reports apart from event reports', async () => {
    const res = await call(p, admin, 'GET', ROOM_REPORTS);
    expect(res.body).toEqual({
      room_reports: [
        {
          id: expect.any(Number),
          received_ts: expect.any(Number),
          room_id: otherRoomId,
          user_id: bob.userId,
          reason: 'bad room',
          name: null,
          canonical_alias: null,
        },
      ],
      total: 1,
    });
  });

  it('refuse bad paging parameters with 400', async () => {
    expect(await call(p, admin, 'GET', `${EVENT_REPORTS}?limit=0`)).toMatchObject({ status: 400, body: { errcode: 'M_INVALID_PARAM' } });
    expect(await call(p, admin, 'GET', `${EVENT_REPORTS}?from=-1`)).toMatchObject({ status: 400, body: { errcode: 'M_INVALID_PARAM' } });
    expect(await call(p, admin, 'GET', `${EVENT_REPORTS}?dir=x`)).toMatchObject({ status: 400, body: { errcode: 'M_INVALID_PARAM' } });
    expect(await call(p, admin, 'GET', `${EVENT_REPORTS}?from=99999999999999999999999`)).toMatchObject({
      status: 400,
      body: { errcode: 'M_INVALID_PARAM' },
    });
  });
});
