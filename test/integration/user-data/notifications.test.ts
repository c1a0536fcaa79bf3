import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../../homeserver/platform.js';
import { specValidator } from '../../helpers/openapi/spec-validator.js';
import { buildPlatform, call, enc, makeUser, type TestUser } from '../../helpers/platform.js';

const spec = await specValidator();
const N = '/_matrix/client/v3/notifications';

let p: Platform;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;
let dm: string;
let txn = 0;

type Notif = { event: { event_id: string; content: { body?: string } }; read: boolean; room_id: string; actions: unknown[]; ts: number };

async function send(user: TestUser, roomId: string, body: string, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await call(p, user, 'PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/n${txn++}`, {
    msgtype: 'm.text',
    body,
    ...extra,
  });
  expect(res.status).toBe(200);
  return res.body.event_id;
}

async function list(user: TestUser, query = '') {
  const res = await call(p, user, 'GET', `${N}${query}`);
  expect(res.status).toBe(200);
  spec.assertResponse('GET', N, 200, res.body);
  return res.body as { notifications: Notif[]; next_token?: string };
}

const bodies = (page: { notifications: Notif[] }) => page.notifications.map((n) => n.event.content.body);

beforeAll(async () => {
  p = await buildPlatform();
  alice = await makeUser(p, 'alice');
  bob = await makeUser(p, 'bob');
  carol = await makeUser(p, 'carol');
  // A room bob talks in before alice joins: none of that may show up for her.
  dm = (await call(p, bob, 'POST', '/_matrix/client/v3/createRoom', {})).body.room_id;
  await send(bob, dm, 'before alice joined');
  await call(p, bob, 'POST', `/_matrix/client/v3/rooms/${enc(dm)}/invite`, { user_id: alice.userId });
  await call(p, alice, 'POST', `/_matrix/client/v3/rooms/${enc(dm)}/join`, {});
});
afterAll(() => p.close());

describe('GET /notifications', () => {
  it('lists other users’ notifying events newest first, with actions, read and ts', async () => {
    const first = await send(bob, dm, 'one');
    await send(alice, dm, 'my own message'); // never notifies its sender
    await send(bob, dm, 'two');
    await send(bob, dm, 'hey alice', { 'm.mentions': { user_ids: [alice.userId] } });
    const page = await list(alice);
    expect(bodies(page)).toEqual(['hey alice', 'two', 'one']);
    expect(page.next_token).toBeUndefined();
    const [mention, two] = page.notifications;
    expect(mention!.room_id).toBe(dm);
    expect(mention!.read).toBe(false);
    expect(mention!.actions).toEqual(expect.arrayContaining(['notify', { set_tweak: 'highlight' }]));
    expect(two!.actions).toContain('notify');
    expect(two!.actions).not.toContainEqual({ set_tweak: 'highlight' });
    expect(typeof two!.ts).toBe('number');
    expect(page.notifications[2]!.event.event_id).toBe(first);
  });

  it('only=highlight keeps the highlighted ones', async () => {
    expect(bodies(await list(alice, '?only=highlight'))).toEqual(['hey alice']);
  });

  it('read reflects the user’s read receipt', async () => {
    const { notifications } = await list(alice);
    const two = notifications.find((n) => n.event.content.body === 'two')!;
    const r = await call(p, alice, 'POST', `/_matrix/client/v3/rooms/${enc(dm)}/receipt/m.read/${enc(two.event.event_id)}`, {});
    expect(r.status).toBe(200);
    const after = await list(alice);
    expect(after.notifications.map((n) => [n.event.content.body, n.read])).toEqual([
      ['hey alice', false],
      ['two', true],
      ['one', true],
    ]);
  });

  it('paginates with limit and next_token', async () => {
    const seen: string[] = [];
    let from: string | undefined;
    for (let i = 0; i < 10; i++) {
      const page = await list(alice, `?limit=1${from ? `&from=${enc(from)}` : ''}`);
      seen.push(...(bodies(page) as string[]));
      if (!page.next_token) break;
      from = page.next_token;
    }
    expect(seen).toEqual(['hey alice', 'two', 'one']);
  });

  it('follows the user’s push rules: a muted room notifies nothing', async () => {
    const group = (await call(p, carol, 'POST', '/_matrix/client/v3/createRoom', { preset: 'public_chat' })).body.room_id;
    await call(p, alice, 'POST', `/_matrix/client/v3/join/${enc(group)}`, {});
    await send(carol, group, 'group chatter');
    expect(bodies(await list(alice, '?limit=1'))).toEqual(['group chatter']);
    const mute = await call(p, alice, 'PUT', `/_matrix/client/v3/pushrules/global/room/${enc(group)}`, { actions: [] });
    expect(mute.status).toBe(200);
    await send(carol, group, 'more chatter');
    expect(bodies(await list(alice))).toEqual(['hey alice', 'two', 'one']);
  });

  it('bad tokens are 400 M_INVALID_PARAM, no token is 401; users with no rooms get an empty list', async () => {
    expect(await call(p, alice, 'GET', `${N}?from=abc`)).toMatchObject({ status: 400, body: { errcode: 'M_INVALID_PARAM' } });
    expect(await call(p, alice, 'GET', `${N}?limit=many`)).toMatchObject({ status: 400 });
    expect((await call(p, undefined, 'GET', N)).status).toBe(401);
    const loner = await makeUser(p, 'loner');
    expect(await list(loner)).toEqual({ notifications: [] });
    expect((await call(p, alice, 'GET', N.replace('/v3/', '/r0/'))).status).toBe(200);
  });
});
