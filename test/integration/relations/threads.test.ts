import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../../homeserver/platform.js';
import { buildPlatform, call, enc, makeUser, type TestUser } from '../../helpers/platform.js';
import { specValidator } from '../../helpers/openapi/spec-validator.js';
import { relationClient } from './fixture.js';

let p: Platform;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;
const spec = await specValidator();
const c = relationClient(() => p);

const get = async (u: TestUser, url: string, status = 200) => {
  const res = await call(p, u, 'GET', url);
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  spec.assertResponse('GET', url, status, res.body);
  return res.body;
};
const ids = (body: { chunk: { event_id: string }[] }) => body.chunk.map((e) => e.event_id);

beforeAll(async () => {
  p = await buildPlatform();
  alice = await makeUser(p, 'alice');
  bob = await makeUser(p, 'bob');
  carol = await makeUser(p, 'carol');
});
afterAll(() => p.close());

describe('GET /threads', () => {
  it('lists thread roots by latest activity, pages with next_batch, and filters include=participated', async () => {
    const room = await c.createRoom(alice, { preset: 'public_chat' });
    await c.join(bob, room);
    const t1 = await c.message(alice, room, 'thread 1');
    const t2 = await c.message(bob, room, 'thread 2');
    const t3 = await c.message(bob, room, 'thread 3');
    await c.message(alice, room, 'not a thread');
    await c.threadReply(bob, room, t1, 'in 1');
    await c.threadReply(bob, room, t3, 'in 3');
    await c.threadReply(bob, room, t2, 'in 2');
    await c.threadReply(alice, room, t3, 'alice in 3');
    // Latest activity: t3, then t2, then t1.
    const all = await get(alice, c.V1(room, '/threads'));
    expect(ids(all)).toEqual([t3, t2, t1]);
    expect(all.next_batch).toBeUndefined();
    expect(all.chunk[0].unsigned['m.relations']['m.thread']).toMatchObject({ count: 2, current_user_participated: true });
    const page1 = await get(alice, c.V1(room, '/threads?limit=2&include=all'));
    expect(ids(page1)).toEqual([t3, t2]);
    const page2 = await get(alice, c.V1(room, `/threads?limit=2&from=${page1.next_batch}`));
    expect(ids(page2)).toEqual([t1]);
    expect(page2.next_batch).toBeUndefined();
    // alice started t1 and replied in t3; t2 is bob's alone.
    expect(ids(await get(alice, c.V1(room, '/threads?include=participated')))).toEqual([t3, t1]);
    expect(ids(await get(bob, c.V1(room, '/threads?include=participated')))).toEqual([t3, t2, t1]);
  });

  it('hides threads from before a join in a room with joined history visibility', async () => {
    const room = await c.createRoom(alice, {
      preset: 'public_chat',
      initial_state: [{ type: 'm.room.history_visibility', state_key: '', content: { history_visibility: 'joined' } }],
    });
    const early = await c.message(alice, room, 'before carol');
    await c.threadReply(alice, room, early, 'early reply');
    await c.join(carol, room);
    const late = await c.message(alice, room, 'after carol');
    await c.threadReply(alice, room, late, 'late reply');
    expect(ids(await get(alice, c.V1(room, '/threads')))).toEqual([late, early]);
    expect(ids(await get(carol, c.V1(room, '/threads')))).toEqual([late]);
    for (const url of [c.V1(room, `/relations/${enc(early)}`), c.R(room, `/event/${enc(early)}`)]) {
      const res = await call(p, carol, 'GET', url);
      expect(res.status).toBe(404);
      expect(res.body.errcode).toBe('M_NOT_FOUND');
    }
    expect((await get(carol, c.V1(room, `/relations/${enc(late)}`))).chunk).toHaveLength(1);
  });

  it("is advertised: spec versions from v1.4 (stable threads for matrix-js-sdk) and Synapse's msc3440.stable flag", async () => {
    const versions = await get(alice, '/_matrix/client/versions');
    expect(versions.versions).toContain('v1.4');
    expect(versions.unstable_features['org.matrix.msc3440.stable']).toBe(true);
  });

  it('rejects bad parameters with 400 and strangers with 403', async () => {
    const room = await c.createRoom(alice, {});
    for (const q of ['include=mine', 'limit=0', 'limit=x', 'from=garbage']) {
      const body = await get(alice, c.V1(room, `/threads?${q}`), 400);
      expect(['M_INVALID_PARAM', 'M_BAD_JSON']).toContain(body.errcode);
    }
    expect((await get(carol, c.V1(room, '/threads'), 403)).errcode).toBe('M_FORBIDDEN');
    expect((await get(carol, c.V1('!unknown:test.local', '/threads'), 403)).errcode).toBe('M_FORBIDDEN');
  });
});
