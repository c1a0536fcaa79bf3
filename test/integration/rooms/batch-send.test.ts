import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../../homeserver/platform.js';
import { buildPlatform, call, enc, makeUser, SERVER_NAME, type TestUser } from '../../helpers/platform.js';
import { FakeAppservice, registration, registrationFile, sendMessages, waitFor } from '../appservices/delivery-helpers.js';

/**
 * History import for appservices: POST /_matrix/client/unstable/com.beeper.backfill/rooms/{roomId}/batch_send
 * (what mautrix bridges call as BeeperBatchSend), on real Postgres with a real HTTP appservice.
 */
let p: Platform;
let alice: TestUser;
const fake = new FakeAppservice();
const AS: TestUser = { userId: '', deviceId: '', accessToken: 'bf-as-token', auth: { authorization: 'Bearer bf-as-token' } };
const ghost = (n: string) => `@bf_${n}:${SERVER_NAME}`;
const BATCH = (roomId: string) => `/_matrix/client/unstable/com.beeper.backfill/rooms/${enc(roomId)}/batch_send`;

function msg(sender: string, body: string, ts: number, extra: Record<string, unknown> = {}) {
  return { type: 'm.room.message', sender, origin_server_ts: ts, content: { msgtype: 'm.text', body }, ...extra };
}

function batchSend(roomId: string, body: unknown, as: TestUser = AS) {
  return call(p, as, 'POST', BATCH(roomId), body);
}

/** A public room of alice's with the ghosts joined (bridges join their ghosts before backfilling). */
async function portal(...ghosts: string[]): Promise<string> {
  const r = await call(p, alice, 'POST', '/_matrix/client/v3/createRoom', { preset: 'public_chat' });
  expect(r.status).toBe(200);
  for (const g of ghosts) {
    const j = await call(p, AS, 'POST', `/_matrix/client/v3/join/${enc(r.body.room_id)}?user_id=${enc(ghost(g))}`, {});
    expect(j.status).toBe(200);
  }
  return r.body.room_id;
}

/** Every message body of the room walking /messages backwards from the live end, `limit` per page. */
async function walkBack(roomId: string, limit = 3, from?: string): Promise<string[]> {
  const bodies: string[] = [];
  let token = from;
  for (let page = 0; page < 100; page++) {
    const q = `dir=b&limit=${limit}${token ? `&from=${enc(token)}` : ''}`;
    const r = await call(p, alice, 'GET', `/_matrix/client/v3/rooms/${enc(roomId)}/messages?${q}`);
    expect(r.status).toBe(200);
    for (const e of r.body.chunk) if (e.type === 'm.room.message') bodies.push(e.content.body);
    if (!r.body.end) return bodies;
    token = r.body.end;
  }
  throw new Error('pagination did not end');
}

async function walkForward(roomId: string, limit = 4, from?: string): Promise<string[]> {
  const bodies: string[] = [];
  let token = from;
  for (let page = 0; page < 100; page++) {
    const q = `dir=f&limit=${limit}${token ? `&from=${enc(token)}` : ''}`;
    const r = await call(p, alice, 'GET', `/_matrix/client/v3/rooms/${enc(roomId)}/messages?${q}`);
    expect(r.status).toBe(200);
    for (const e of r.body.chunk) if (e.type === 'm.room.message') bodies.push(e.content.body);
    if (!r.body.end) return bodies;
    token = r.body.end;
  }
  throw new Error('pagination did not end');
}

async function sync(user: TestUser, since?: string, filter?: unknown) {
  const q = [`timeout=0`, since ? `since=${enc(since)}` : '', filter ? `filter=${enc(JSON.stringify(filter))}` : ''].filter(Boolean);
  const r = await call(p, user, 'GET', `/_matrix/client/v3/sync?${q.join('&')}`);
  expect(r.status).toBe(200);
  return r.body;
}

beforeAll(async () => {
  await fake.start();
  p = await buildPlatform({
    appservices: {
      registration_files: [registrationFile({ ...registration('bf', fake.url, '@bf_.*:test\\.local'), as_token: 'bf-as-token' })],
    },
  });
  alice = await makeUser(p, 'alice');
  for (const g of ['a', 'b', 'c', 'outsider']) {
    const r = await call(p, AS, 'POST', '/_matrix/client/v3/register', { type: 'm.login.application_service', username: `bf_${g}` });
    expect(r.status).toBe(200);
  }
  await waitFor(() => p.delivery!.loop('bf')?.position !== undefined);
}, 30_000);

afterAll(async () => {
  await p?.close();
  await fake.close();
});

describe('batch_send discovery and access', () => {
  it('is advertised in /versions', async () => {
    const r = await call(p, undefined, 'GET', '/_matrix/client/versions');
    expect(r.body.unstable_features['com.beeper.batch_sending']).toBe(true);
  });

  it('refuses normal users with M_FORBIDDEN', async () => {
    const room = await portal('a');
    const r = await batchSend(room, { events: [msg(alice.userId, 'x', 1)] }, alice);
    expect(r).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });
  });

  it('refuses senders outside the namespace, naming the event', async () => {
    const room = await portal('a');
    const r = await batchSend(room, { events: [msg(ghost('a'), 'ok', 1), msg(alice.userId, 'not mine', 2)] });
    expect(r).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });
    expect(r.body.error).toContain('events[1]');
  });

  it('refuses ghosts that are not joined, naming the event, and writes nothing', async () => {
    const room = await portal('a');
    const before = await walkBack(room);
    for (const forward of [false, true]) {
      const r = await batchSend(room, { forward, events: [msg(ghost('a'), 'ok', 1), msg(ghost('outsider'), 'not joined', 2)] });
      expect(r).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });
      expect(r.body.error).toContain('events[1]');
    }
    expect(await walkBack(room)).toEqual(before);
  });

  it('answers bad bodies with 400s, never 500', async () => {
    const room = await portal('a');
    const cases: [unknown, string][] = [
      [{}, 'M_BAD_JSON'],
      [[], 'M_BAD_JSON'],
      [{ events: 'nope' }, 'M_BAD_JSON'],
      [{ events: [42] }, 'M_BAD_JSON'],
      [{ events: [{ sender: ghost('a'), content: {} }] }, 'M_BAD_JSON'],
      [{ events: [{ type: 'm.room.message', sender: ghost('a'), content: 'text' }] }, 'M_BAD_JSON'],
      [{ events: [{ type: 'm.room.message', sender: 'not-a-user', content: {} }] }, 'M_INVALID_PARAM'],
      [{ events: [msg(ghost('a'), 'x', -5)] }, 'M_BAD_JSON'],
      [{ forward: 'yes', events: [msg(ghost('a'), 'x', 1)] }, 'M_BAD_JSON'],
      [{ mark_read_by: 'alice', events: [msg(ghost('a'), 'x', 1)] }, 'M_INVALID_PARAM'],
      [{ events: Array.from({ length: 1001 }, (_, i) => msg(ghost('a'), `m${i}`, i)) }, 'M_INVALID_PARAM'],
      [{ events: [msg(ghost('a'), 'x', 1, { event_id: '$same' }), msg(ghost('a'), 'y', 2, { event_id: '$same' })] }, 'M_INVALID_PARAM'],
      [{ events: [msg(ghost('a'), 'x', 1, { room_id: '!other:test.local' })] }, 'M_INVALID_PARAM'],
      [{ events: [{ type: 'm.room.topic', state_key: '', sender: ghost('a'), content: { topic: 'old' } }] }, 'M_INVALID_PARAM'],
    ];
    for (const [body, errcode] of cases) {
      const r = await batchSend(room, body);
      expect({ body, status: r.status, errcode: r.body.errcode }).toEqual({ body, status: 400, errcode });
    }
    expect((await batchSend('!unknown:test.local', { events: [msg(ghost('a'), 'x', 1)] })).status).toBe(404);
    expect(await batchSend(room, { events: [] })).toEqual({ status: 200, body: { event_ids: [] } });
  });
});

describe('backward batches', () => {
  it('go before the existing messages, stack older, and pagination walks through them in order', async () => {
    const room = await portal('a', 'b');
    await sendMessages(p, alice, room, 3, 'live');
    const first = await batchSend(room, {
      events: [0, 1, 2, 3, 4].map((i) => msg(i % 2 ? ghost('a') : ghost('b'), `h${i}`, 1_000_000 + i)),
    });
    expect(first.status).toBe(200);
    expect(first.body.event_ids).toHaveLength(5);
    expect(await walkBack(room)).toEqual(['live 2', 'live 1', 'live 0', 'h4', 'h3', 'h2', 'h1', 'h0']);

    const second = await batchSend(room, { events: [0, 1, 2].map((i) => msg(ghost('a'), `g${i}`, 500_000 + i)) });
    expect(second.status).toBe(200);
    const all = ['live 2', 'live 1', 'live 0', 'h4', 'h3', 'h2', 'h1', 'h0', 'g2', 'g1', 'g0'];
    expect(await walkBack(room, 2)).toEqual(all);
    expect(await walkBack(room, 50)).toEqual(all);
    expect(await walkForward(room)).toEqual([...all].reverse());

    // A token inside history pages both ways: negative positions are ordinary tokens.
    const h2 = first.body.event_ids[2];
    const around = await call(p, alice, 'GET', `/_matrix/client/v3/rooms/${enc(room)}/context/${enc(h2)}?limit=0`);
    expect(around.body.start).toMatch(/^s-\d+$/);
    expect(await walkForward(room, 3, around.body.start)).toEqual(['h2', 'h3', 'h4', 'live 0', 'live 1', 'live 2']);
    expect(await walkBack(room, 3, around.body.start)).toEqual(['h1', 'h0', 'g2', 'g1', 'g0']);

    // Retrievable, with the timestamps the bridge gave, and /context around a historical event.
    const id = first.body.event_ids[2];
    const ev = await call(p, alice, 'GET', `/_matrix/client/v3/rooms/${enc(room)}/event/${enc(id)}`);
    expect(ev).toMatchObject({
      status: 200,
      body: { event_id: id, sender: ghost('b'), origin_server_ts: 1_000_002, content: { body: 'h2' } },
    });
    const ctx = await call(p, alice, 'GET', `/_matrix/client/v3/rooms/${enc(room)}/context/${enc(id)}?limit=4`);
    expect(ctx.status).toBe(200);
    expect(ctx.body.events_before.map((e: any) => e.content.body)).toEqual(['h1', 'h0']);
    expect(ctx.body.events_after.map((e: any) => e.content.body)).toEqual(['h3', 'h4']);
    expect(ctx.body.state.some((e: any) => e.type === 'm.room.create')).toBe(true);
  });

  it('are not new to incremental sync, and initial sync shows the newest events', async () => {
    const room = await portal('a');
    await sendMessages(p, alice, room, 4, 'new');
    const before = await sync(alice);
    const r = await batchSend(room, { events: [0, 1, 2].map((i) => msg(ghost('a'), `old${i}`, i + 1)) });
    expect(r.status).toBe(200);
    const after = await sync(alice, before.next_batch);
    expect(after.rooms.join[room]?.timeline.events ?? []).toEqual([]);

    const limited = await sync(alice, undefined, { room: { timeline: { limit: 3 } } });
    const timeline = limited.rooms.join[room].timeline;
    expect(timeline.events.map((e: any) => e.content.body)).toEqual(['new 1', 'new 2', 'new 3']);
    expect(timeline.limited).toBe(true);
    // With room for everything, history comes first, before the room's creation.
    const whole = (await sync(alice, undefined, { room: { timeline: { limit: 50 } } })).rooms.join[room].timeline;
    expect(whole.limited).toBe(false);
    expect(whole.events.slice(0, 4).map((e: any) => e.content.body ?? e.type)).toEqual(['old0', 'old1', 'old2', 'm.room.create']);
    // Nothing of the history counts as unread.
    expect(limited.rooms.join[room].unread_notifications.notification_count).toBe(0);
  });

  it('reach initial sync even when the room was synced before (no cache may claim the start of a room)', async () => {
    const room = await portal('a');
    await sendMessages(p, alice, room, 1, 'new');
    const filter = { room: { timeline: { limit: 50 } } };
    const before = (await sync(alice, undefined, filter)).rooms.join[room].timeline;
    expect(before.events[0].type).toBe('m.room.create');
    expect((await batchSend(room, { events: [msg(ghost('a'), 'old', 1)] })).status).toBe(200);
    const after = (await sync(alice, undefined, filter)).rooms.join[room].timeline;
    expect(after.events.map((e: any) => e.content.body ?? e.type).slice(0, 2)).toEqual(['old', 'm.room.create']);
  });

  it('are not delivered to the appservice again (nor at all), unlike forward ones', async () => {
    const room = await portal('a');
    const back = await batchSend(room, { events: [msg(ghost('a'), 'hist', 1)] });
    const fwd = await batchSend(room, { forward: true, events: [msg(ghost('a'), 'fwd', Date.now())] });
    const [marker] = await sendMessages(p, alice, room, 1, 'marker');
    await waitFor(() => fake.deliveredIds.includes(marker!), 15_000, 'marker delivered');
    expect(fake.deliveredIds).toContain(fwd.body.event_ids[0]);
    expect(fake.deliveredIds).not.toContain(back.body.event_ids[0]);
    expect(new Set(fake.deliveredIds).size).toBe(fake.deliveredIds.length);
  });
});

describe('forward batches', () => {
  it('append at the end, reach incremental sync, and do not notify when send_notification is false', async () => {
    const room = await portal('a');
    const before = await sync(alice);
    const silent = await batchSend(room, {
      forward: true,
      send_notification: false,
      events: [msg(ghost('a'), 'f0', 10), msg(ghost('a'), 'f1', 11)],
    });
    expect(silent.status).toBe(200);
    let s = await sync(alice, before.next_batch);
    expect(s.rooms.join[room].timeline.events.map((e: any) => e.event_id)).toEqual(silent.body.event_ids);
    expect(s.rooms.join[room].timeline.events[0].origin_server_ts).toBe(10);
    expect(s.rooms.join[room].unread_notifications.notification_count).toBe(0);
    expect(await walkBack(room)).toEqual(['f1', 'f0']);

    const loud = await batchSend(room, { forward: true, send_notification: true, events: [msg(ghost('a'), 'f2', 12)] });
    expect(loud.status).toBe(200);
    s = await sync(alice, s.next_batch);
    expect(s.rooms.join[room].unread_notifications.notification_count).toBe(1);

    // mark_read_by: the user's read receipt moves to the batch's last event.
    const read = await batchSend(room, {
      forward: true,
      send_notification: true,
      mark_read_by: alice.userId,
      events: [msg(ghost('a'), 'f3', 13)],
    });
    s = await sync(alice, s.next_batch);
    expect(s.rooms.join[room].unread_notifications.notification_count).toBe(0);
    const receipt = s.rooms.join[room].ephemeral.events.find((e: any) => e.type === 'm.receipt');
    expect(receipt.content[read.body.event_ids[0]]['m.read'][alice.userId]).toBeDefined();
    expect(await walkBack(room)).toEqual(['f3', 'f2', 'f1', 'f0']);
  });

  it('forward_if_no_messages appends to a room without messages and prepends otherwise', async () => {
    const room = await portal('a');
    const first = await batchSend(room, { forward_if_no_messages: true, events: [msg(ghost('a'), 'first', 1)] });
    const second = await batchSend(room, { forward_if_no_messages: true, events: [msg(ghost('a'), 'older', 0)] });
    expect([first.status, second.status]).toEqual([200, 200]);
    const rows = await p.db.query<{ event_id: string; stream_ordering: number }>(
      'SELECT event_id, stream_ordering FROM hs_events WHERE event_id = ANY($1)',
      [[first.body.event_ids[0], second.body.event_ids[0]]],
    );
    const pos = new Map(rows.rows.map((r) => [r.event_id, r.stream_ordering]));
    expect(pos.get(first.body.event_ids[0])).toBeGreaterThan(0);
    expect(pos.get(second.body.event_ids[0])).toBeLessThan(0);
    expect(await walkBack(room)).toEqual(['first', 'older']);
  });
});

describe('bridge-chosen event ids (mautrix-go precomputes and keeps them)', () => {
  it('keeps them, answers an exact retry with the same ids, and refuses reusing one', async () => {
    const room = await portal('a');
    for (const forward of [true, false]) {
      const ids = [`$one-${forward}:backfill.${SERVER_NAME}`, `$two-${forward}:backfill.${SERVER_NAME}`];
      const body = {
        forward,
        events: [
          msg(ghost('a'), `one ${forward}`, 1, { event_id: ids[0], room_id: room }),
          // A reply to the first event of the same batch, by its chosen id.
          msg(ghost('a'), `two ${forward}`, 2, {
            event_id: ids[1],
            content: { msgtype: 'm.text', body: 'two', 'm.relates_to': { 'm.in_reply_to': { event_id: ids[0] } } },
          }),
        ],
      };
      const r = await batchSend(room, body);
      expect(r).toEqual({ status: 200, body: { event_ids: ids } });
      const ev = await call(p, alice, 'GET', `/_matrix/client/v3/rooms/${enc(room)}/event/${enc(ids[1]!)}`);
      expect(ev).toMatchObject({ status: 200, body: { event_id: ids[1] } });
      const count = async () => (await p.db.query('SELECT 1 FROM hs_events WHERE room_id = $1', [room])).rowCount;
      const n = await count();
      expect(await batchSend(room, body)).toEqual({ status: 200, body: { event_ids: ids } });
      expect(await count()).toBe(n);
      const reuse = await batchSend(room, {
        forward,
        events: [msg(ghost('a'), 'new', 3), msg(ghost('a'), 'dup', 4, { event_id: ids[0] })],
      });
      expect(reuse).toMatchObject({ status: 400, body: { errcode: 'M_INVALID_PARAM' } });
      expect(reuse.body.error).toContain('events[1]');
    }
  });

  it('lets the appservice masquerade as a ghost for the batch', async () => {
    const room = await portal('c');
    const r = await call(p, AS, 'POST', `${BATCH(room)}?user_id=${enc(ghost('c'))}`, { events: [msg(ghost('c'), 'as c', 1)] });
    expect(r.status).toBe(200);
  });
});
