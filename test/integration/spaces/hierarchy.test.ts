import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../../homeserver/platform.js';
import { buildPlatform, call, enc, makeUser, SERVER_NAME, type TestUser } from '../../helpers/platform.js';
import { specValidator } from '../../helpers/openapi/spec-validator.js';

let p: Platform;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;
const spec = await specValidator();
const R = (roomId: string, rest = '') => `/_matrix/client/v3/rooms/${enc(roomId)}${rest}`;
const H = (roomId: string, query = '') => `/_matrix/client/v1/rooms/${enc(roomId)}/hierarchy${query}`;

async function createRoom(name: string, body: Record<string, unknown> = {}): Promise<string> {
  const res = await call(p, alice, 'POST', '/_matrix/client/v3/createRoom', { name, ...body });
  expect(res.status).toBe(200);
  return res.body.room_id;
}
const space = (name: string, body: Record<string, unknown> = {}) => createRoom(name, { creation_content: { type: 'm.space' }, ...body });
const state = (type: string, content: Record<string, unknown>) => ({ type, state_key: '', content });

async function addChild(parent: string, child: string, content: Record<string, unknown> = {}) {
  const res = await call(p, alice, 'PUT', R(parent, `/state/m.space.child/${enc(child)}`), { via: [SERVER_NAME], ...content });
  expect(res.status).toBe(200);
}

/** GET /hierarchy as `u`; asserts 200 and the spec's schema. */
async function hierarchy(u: TestUser, roomId: string, query = '') {
  const res = await call(p, u, 'GET', H(roomId, query));
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  spec.assertResponse('GET', H(roomId, query), 200, res.body);
  return res.body as { rooms: Record<string, any>[]; next_batch?: string };
}

const names = (body: { rooms: { name?: string }[] }) => body.rooms.map((r) => r.name);

let root: string;
let sub: string;
let publicRoom: string;
let privateRoom: string;

beforeAll(async () => {
  p = await buildPlatform();
  alice = await makeUser(p, 'alice');
  bob = await makeUser(p, 'bob');
  carol = await makeUser(p, 'carol');

  // root (space, invite-only; bob is a member)
  //  ├ a  public room              "order": "a", suggested
  //  ├ sub  public space           "order": "b", suggested
  //  │   ├ c  public room          (not suggested)
  //  │   └ root                    (a cycle)
  //  ├ w  world-readable room      "order": "c"
  //  ├ k  knock room               "order": "d"
  //  ├ r  restricted to root       "order": "e"
  //  ├ p  private room             "order": "f"   hidden from bob, and so is its child h
  //  ├ x  restricted to p          "order": "g"   hidden from bob
  //  ├ an unknown room             "order": "h"   skipped
  //  └ z  with an empty via                       not a child
  root = await space('root', { topic: 'the root', invite: [bob.userId] });
  await call(p, bob, 'POST', R(root, '/join'), {});
  publicRoom = await createRoom('a', { preset: 'public_chat', room_alias_name: 'space-a' });
  sub = await space('sub', { preset: 'public_chat' });
  const c = await createRoom('c', { preset: 'public_chat' });
  const w = await createRoom('w', { initial_state: [state('m.room.history_visibility', { history_visibility: 'world_readable' })] });
  const k = await createRoom('k', { initial_state: [state('m.room.join_rules', { join_rule: 'knock' })] });
  const r = await createRoom('r', {
    initial_state: [state('m.room.join_rules', { join_rule: 'restricted', allow: [{ type: 'm.room_membership', room_id: root }] })],
  });
  privateRoom = await createRoom('p');
  const h = await createRoom('h', { preset: 'public_chat' });
  const x = await createRoom('x', {
    initial_state: [state('m.room.join_rules', { join_rule: 'restricted', allow: [{ type: 'm.room_membership', room_id: privateRoom }] })],
  });
  const z = await createRoom('z', { preset: 'public_chat' });
  await addChild(root, publicRoom, { order: 'a', suggested: true });
  await addChild(root, sub, { order: 'b', suggested: true });
  await addChild(sub, c);
  await addChild(sub, root);
  await addChild(root, w, { order: 'c' });
  await addChild(root, k, { order: 'd' });
  await addChild(root, r, { order: 'e' });
  await addChild(root, privateRoom, { order: 'f' });
  await addChild(privateRoom, h);
  await addChild(root, x, { order: 'g' });
  await addChild(root, `!unknown:${SERVER_NAME}`, { order: 'h' });
  await call(p, alice, 'PUT', R(root, `/state/m.space.child/${enc(z)}`), { via: [] });
});
afterAll(() => p.close());

describe('GET /rooms/{roomId}/hierarchy', () => {
  it('walks the tree depth-first in child order, listing what the user may preview, and ends cycles', async () => {
    const res = await hierarchy(bob, root);
    expect(names(res)).toEqual(['root', 'a', 'sub', 'c', 'w', 'k', 'r']);
    expect(res.next_batch).toBeUndefined();
    const [rootEntry, a, subEntry, c, w] = res.rooms as Record<string, any>[];
    expect(rootEntry).toMatchObject({
      room_id: root,
      room_type: 'm.space',
      topic: 'the root',
      join_rule: 'invite',
      num_joined_members: 2,
      world_readable: false,
      guest_can_join: true, // the private_chat preset
    });
    // Every valid child event, as stripped state with origin_server_ts; z (empty via) is not one.
    expect(rootEntry!.children_state).toHaveLength(8);
    expect(rootEntry!.children_state[0]).toEqual({
      type: 'm.space.child',
      state_key: publicRoom,
      content: { via: [SERVER_NAME], order: 'a', suggested: true },
      sender: alice.userId,
      origin_server_ts: expect.any(Number),
    });
    expect(a).toMatchObject({ join_rule: 'public', canonical_alias: `#space-a:${SERVER_NAME}`, num_joined_members: 1, children_state: [] });
    expect(a!.room_type).toBeUndefined();
    expect(subEntry!.children_state.map((e: { state_key: string }) => e.state_key).sort()).toEqual([c!.room_id, root].sort());
    expect(w).toMatchObject({ world_readable: true, join_rule: 'invite' });
  });

  it('follows only suggested children with suggested_only, and stops at max_depth', async () => {
    const suggested = await hierarchy(bob, root, '?suggested_only=true');
    expect(names(suggested)).toEqual(['root', 'a', 'sub']);
    expect(suggested.rooms[0]!.children_state.map((e: { state_key: string }) => e.state_key)).toEqual([publicRoom, sub]);
    expect(names(await hierarchy(bob, root, '?max_depth=0'))).toEqual(['root']);
    expect(names(await hierarchy(bob, root, '?max_depth=1'))).toEqual(['root', 'a', 'sub', 'w', 'k', 'r']);
  });

  it('paginates with from/limit, keeping suggested_only and max_depth fixed', async () => {
    const seen: (string | undefined)[] = [];
    let from: string | undefined;
    let pages = 0;
    do {
      const page = await hierarchy(bob, root, `?limit=2${from ? `&from=${enc(from)}` : ''}`);
      expect(page.rooms.length).toBeLessThanOrEqual(2);
      seen.push(...names(page));
      from = page.next_batch;
      pages++;
    } while (from);
    expect(pages).toBe(4);
    expect(seen).toEqual(['root', 'a', 'sub', 'c', 'w', 'k', 'r']);

    const first = await hierarchy(bob, root, '?limit=2&max_depth=1');
    const changed = await call(p, bob, 'GET', H(root, `?limit=2&max_depth=2&from=${enc(first.next_batch!)}`));
    expect(changed).toMatchObject({ status: 400, body: { errcode: 'M_INVALID_PARAM' } });
    spec.assertResponse('GET', H(root), 400, changed.body);
    const otherRoot = await call(p, bob, 'GET', H(sub, `?limit=2&max_depth=1&from=${enc(first.next_batch!)}`));
    expect(otherRoot).toMatchObject({ status: 400, body: { errcode: 'M_INVALID_PARAM' } });
    for (const query of ['?from=nonsense', '?limit=0', '?max_depth=-1', '?limit=abc']) {
      expect((await call(p, bob, 'GET', H(root, query))).body.errcode, query).toBe('M_INVALID_PARAM');
    }
  });

  it('answers 403 for a root the user cannot preview, or an unknown one', async () => {
    const denied = await call(p, carol, 'GET', H(root));
    expect(denied).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });
    spec.assertResponse('GET', H(root), 403, denied.body);
    expect((await call(p, bob, 'GET', H(privateRoom))).status).toBe(403);
    expect((await call(p, bob, 'GET', H(`!nowhere:${SERVER_NAME}`))).status).toBe(403);
    // A public space is visible to anyone: carol sees sub, its public child, and not root (invite-only).
    expect(names(await hierarchy(carol, sub))).toEqual(['sub', 'c']);
    // Invited, carol sees root; r (restricted to root's members) only once she has joined.
    await call(p, alice, 'POST', R(root, '/invite'), { user_id: carol.userId });
    expect(names(await hierarchy(carol, sub))).toEqual(['sub', 'c', 'root', 'a', 'w', 'k']);
    await call(p, carol, 'POST', R(root, '/join'), {});
    expect(names(await hierarchy(carol, sub))).toEqual(['sub', 'c', 'root', 'a', 'w', 'k', 'r']);
    // A ban from root does not hide a public room; it hides root, which carol no longer may preview.
    await call(p, alice, 'POST', R(root, '/ban'), { user_id: carol.userId });
    expect(names(await hierarchy(carol, sub))).toEqual(['sub', 'c']);
  });
});

describe('GET /room_summary/{roomIdOrAlias}', () => {
  it('summarises a room the user may preview, by id or alias, and 404s the others', async () => {
    const url = `/_matrix/client/v1/room_summary/${enc(`#space-a:${SERVER_NAME}`)}`;
    const byAlias = await call(p, carol, 'GET', url);
    expect(byAlias.status).toBe(200);
    spec.assertResponse('GET', url, 200, byAlias.body);
    expect(byAlias.body).toMatchObject({ room_id: publicRoom, name: 'a', join_rule: 'public', num_joined_members: 1 });
    expect(byAlias.body.membership).toBeUndefined();
    const own = await call(p, bob, 'GET', `/_matrix/client/v1/room_summary/${enc(root)}`);
    expect(own.body).toMatchObject({ room_id: root, room_type: 'm.space', membership: 'join' });
    const hidden = await call(p, bob, 'GET', `/_matrix/client/v1/room_summary/${enc(privateRoom)}`);
    expect(hidden).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND' } });
    spec.assertResponse('GET', `/_matrix/client/v1/room_summary/${enc(privateRoom)}`, 404, hidden.body);
    const unstable = await call(p, bob, 'GET', `/_matrix/client/unstable/im.nheko.summary/summary/${enc(root)}`);
    expect(unstable.body.room_id).toBe(root);
  });
});
