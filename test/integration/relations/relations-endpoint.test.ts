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
let room: string;
let root: string;
/** Thread replies, oldest first. */
const replies: string[] = [];
let reaction: string;
let edit: string;
let custom: string;

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
  room = await c.createRoom(alice, { preset: 'public_chat' });
  await c.join(bob, room);
  root = await c.message(alice, room, 'root');
  for (let i = 0; i < 5; i++) replies.push(await c.threadReply(i % 2 ? bob : alice, room, root, `reply ${i}`));
  reaction = await c.react(bob, room, root, '👍');
  edit = await c.edit(alice, room, root, 'root (edited)');
  custom = await c.sendEvent(bob, room, 'org.example.note', { 'm.relates_to': { rel_type: 'org.example.rel', event_id: root } });
});
afterAll(() => p.close());

describe('GET /relations', () => {
  it('lists every child, newest first, and pages backwards with next_batch', async () => {
    const all = [...replies, reaction, edit, custom].reverse();
    const first = await get(alice, c.V1(room, `/relations/${enc(root)}?limit=3`));
    expect(ids(first)).toEqual(all.slice(0, 3));
    expect(first.prev_batch).toBeUndefined();
    expect(first.next_batch).toEqual(expect.any(String));
    const second = await get(alice, c.V1(room, `/relations/${enc(root)}?limit=3&from=${first.next_batch}`));
    expect(ids(second)).toEqual(all.slice(3, 6));
    expect(second.prev_batch).toBe(first.next_batch);
    const third = await get(alice, c.V1(room, `/relations/${enc(root)}?limit=3&from=${second.next_batch}`));
    expect(ids(third)).toEqual(all.slice(6));
    expect(third.next_batch).toBeUndefined();
    // `to` stops a range: from page 1's start up to page 2's end is pages 1 and 2.
    const ranged = await get(alice, c.V1(room, `/relations/${enc(root)}?limit=50&to=${second.next_batch}`));
    expect(ids(ranged)).toEqual(all.slice(0, 6));
  });

  it('pages forwards with dir=f', async () => {
    const all = [...replies, reaction, edit, custom];
    const first = await get(alice, c.V1(room, `/relations/${enc(root)}?dir=f&limit=4`));
    expect(ids(first)).toEqual(all.slice(0, 4));
    const second = await get(alice, c.V1(room, `/relations/${enc(root)}?dir=f&limit=4&from=${first.next_batch}`));
    expect(ids(second)).toEqual(all.slice(4, 8));
    expect(second.next_batch).toBeUndefined(); // exactly 8 children: nothing after the second page
    // A page ending where a later token starts is empty.
    const last = await get(alice, c.V1(room, `/relations/${enc(root)}?dir=f&limit=4&from=${first.next_batch}&to=${first.next_batch}`));
    expect(ids(last)).toEqual([]);
  });

  it('filters by rel_type and by rel_type + event type', async () => {
    expect(ids(await get(alice, c.V1(room, `/relations/${enc(root)}/m.thread?limit=10`)))).toEqual([...replies].reverse());
    expect(ids(await get(alice, c.V1(room, `/relations/${enc(root)}/m.annotation`)))).toEqual([reaction]);
    expect(ids(await get(alice, c.V1(room, `/relations/${enc(root)}/m.annotation/m.reaction`)))).toEqual([reaction]);
    expect(ids(await get(alice, c.V1(room, `/relations/${enc(root)}/m.annotation/m.room.message`)))).toEqual([]);
    expect(ids(await get(alice, c.V1(room, `/relations/${enc(root)}/org.example.rel/org.example.note`)))).toEqual([custom]);
    const replace = await get(alice, c.V1(room, `/relations/${enc(root)}/m.replace`));
    expect(replace.chunk[0].content['m.new_content'].body).toBe('root (edited)');
  });

  it('recurse=true also returns children of children and reports the depth', async () => {
    const replyEdit = await c.edit(alice, room, replies[0]!, 'reply 0 (edited)');
    const flat = await get(alice, c.V1(room, `/relations/${enc(root)}/m.replace?recurse=false`));
    expect(ids(flat)).toEqual([edit]);
    expect(flat.recursion_depth).toBe(0);
    const deep = await get(alice, c.V1(room, `/relations/${enc(root)}/m.replace?recurse=true`));
    expect(ids(deep)).toEqual([replyEdit, edit]);
    expect(deep.recursion_depth).toBe(3);
    // The thread's replies come with their own edits bundled (Element opens threads through /relations).
    const thread = await get(alice, c.V1(room, `/relations/${enc(root)}/m.thread?dir=f&limit=1`));
    expect(thread.chunk[0].unsigned['m.relations']['m.replace'].event_id).toBe(replyEdit);
    await c.redact(alice, room, replyEdit);
  });

  it('a redacted child drops out of /relations', async () => {
    const extra = await c.react(alice, room, root, '🎉');
    expect(ids(await get(alice, c.V1(room, `/relations/${enc(root)}/m.annotation`)))).toEqual([extra, reaction]);
    await c.redact(alice, room, extra);
    expect(ids(await get(alice, c.V1(room, `/relations/${enc(root)}/m.annotation`)))).toEqual([reaction]);
  });

  it('answers 404 for unknown events and for rooms the user is not in, 400 for bad parameters', async () => {
    const carol = await makeUser(p, 'carol');
    const privateRoom = await c.createRoom(alice, {});
    const secret = await c.message(alice, privateRoom, 'secret');
    for (const url of [
      c.V1(room, `/relations/${enc('$nope:test.local')}`),
      c.V1(privateRoom, `/relations/${enc(secret)}`),
      c.V1('!unknown:test.local', `/relations/${enc(secret)}`),
    ]) {
      const who = url.includes(enc(privateRoom)) ? carol : alice;
      const body = await get(who, url, 404);
      expect(body.errcode).toBe('M_NOT_FOUND');
    }
    for (const q of ['from=nonsense', 'to=s1x', 'limit=-1', 'limit=abc', 'dir=x', 'recurse=maybe']) {
      const res = await call(p, alice, 'GET', c.V1(room, `/relations/${enc(root)}?${q}`));
      expect(res.status, q).toBe(400);
      expect(['M_INVALID_PARAM', 'M_BAD_JSON']).toContain(res.body.errcode);
    }
  });
});
