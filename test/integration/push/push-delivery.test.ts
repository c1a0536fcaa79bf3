import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../../homeserver/platform.js';
import { specValidator } from '../../helpers/openapi/spec-validator.js';
import { buildPlatform, call, enc, makeUser, type TestUser } from '../../helpers/platform.js';
import { FakeGateway, waitFor } from './fake-gateway.js';
import { notifyRequestValidator } from './notify-schema.js';

const spec = await specValidator();
const assertNotifyBody = notifyRequestValidator();
const gateway = new FakeGateway();
const APP_ID = 'im.vector.app.android';

let p: Platform;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;
let dm: string;
let group: string;
let txn = 0;

async function send(user: TestUser, roomId: string, body: string, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await call(p, user, 'PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/t${txn++}`, {
    msgtype: 'm.text',
    body,
    ...extra,
  });
  expect(res.status).toBe(200);
  return res.body.event_id;
}

async function setPusher(pushkey: string, data: Record<string, unknown>): Promise<void> {
  const res = await call(p, alice, 'POST', '/_matrix/client/v3/pushers/set', {
    kind: 'http',
    app_id: APP_ID,
    pushkey,
    app_display_name: 'Element',
    device_display_name: pushkey,
    lang: 'en',
    data: { url: gateway.url, ...data },
  });
  expect(res.status).toBe(200);
}

/** Notifications the gateway accepted for one pushkey, in arrival order. */
const deliveredTo = (pushkey: string) => gateway.delivered.filter((n) => n.devices[0].pushkey === pushkey);
const idsTo = (pushkey: string) => deliveredTo(pushkey).map((n) => n.event_id as string);

/** Waits until the phone pusher got `eventId`; pushes are in stream order, so everything before it was decided. */
async function arrived(eventId: string, pushkey = 'phone') {
  await waitFor(() => idsTo(pushkey).includes(eventId), 10_000, `push of ${eventId} to ${pushkey}`);
  return deliveredTo(pushkey).find((n) => n.event_id === eventId)!;
}

beforeAll(async () => {
  await gateway.start();
  p = await buildPlatform({ push: { ip_range_whitelist: ['127.0.0.1/32'] } }); // the gateway is local
  Object.assign(p.services.pusherDelivery.settings, { backoffBaseMs: 50, backoffCapMs: 200 });
  alice = await makeUser(p, 'alice');
  bob = await makeUser(p, 'bob');
  carol = await makeUser(p, 'carol');
  dm = (await call(p, bob, 'POST', '/_matrix/client/v3/createRoom', { is_direct: true, invite: [alice.userId] })).body.room_id;
  await call(p, alice, 'POST', `/_matrix/client/v3/rooms/${enc(dm)}/join`, {});
  group = (await call(p, carol, 'POST', '/_matrix/client/v3/createRoom', { preset: 'public_chat', name: 'Book club' })).body.room_id;
  await call(p, alice, 'POST', `/_matrix/client/v3/join/${enc(group)}`, {});
  await call(p, bob, 'POST', `/_matrix/client/v3/join/${enc(group)}`, {});
  await setPusher('phone', { custom: 'kept' });
});
afterAll(async () => {
  await p.close();
  await gateway.close();
});

describe('push to HTTP pushers', () => {
  it('a DM message from another user reaches the gateway with the spec’s body, high priority', async () => {
    const before = Date.now();
    const id = await send(bob, dm, 'hello there');
    const n = await arrived(id);
    assertNotifyBody({ notification: n });
    expect(n).toEqual({
      event_id: id,
      room_id: dm,
      type: 'm.room.message',
      sender: bob.userId,
      sender_display_name: 'bob',
      content: { msgtype: 'm.text', body: 'hello there' },
      prio: 'high',
      counts: { unread: 1 },
      devices: [
        {
          app_id: APP_ID,
          pushkey: 'phone',
          pushkey_ts: expect.any(Number),
          data: { custom: 'kept' }, // everything but url
          tweaks: { sound: 'default' },
        },
      ],
    });
    expect(n.devices[0].pushkey_ts).toBeLessThanOrEqual(Math.ceil(before / 1000)); // seconds, as Synapse sends
    expect(gateway.requests.at(-1)!.path).toBe('/_matrix/push/v1/notify');
  });

  it('the user’s own messages are not pushed', async () => {
    const mark = idsTo('phone').length;
    const mine = await send(alice, dm, 'my own words');
    const marker = await send(bob, dm, 'after yours');
    await arrived(marker);
    expect(idsTo('phone').slice(mark)).toEqual([marker]);
    expect(idsTo('phone')).not.toContain(mine);
  });

  it('a group message is low priority with the room name; a mention is high', async () => {
    const plain = await send(carol, group, 'chapter 3 tonight');
    const mention = await send(carol, group, 'alice, you in?', { 'm.mentions': { user_ids: [alice.userId] } });
    const m = await arrived(mention);
    const n = deliveredTo('phone').find((x) => x.event_id === plain)!;
    expect(n).toMatchObject({ prio: 'low', room_name: 'Book club', sender_display_name: 'carol' });
    expect(n.devices[0].tweaks).toBeUndefined();
    expect(m).toMatchObject({ prio: 'high', devices: [{ tweaks: { highlight: true, sound: 'default' } }] });
    expect(m.counts.unread).toBe(2); // the DM and the group have unread notifications
  });

  it('a muted room (room rule with no actions) pushes nothing', async () => {
    const mute = await call(p, alice, 'PUT', `/_matrix/client/v3/pushrules/global/room/${enc(group)}`, { actions: [] });
    expect(mute.status).toBe(200);
    const mark = idsTo('phone').length;
    await send(carol, group, 'muted chatter');
    const marker = await send(bob, dm, 'still here');
    await arrived(marker);
    expect(idsTo('phone').slice(mark)).toEqual([marker]);
    await call(p, alice, 'DELETE', `/_matrix/client/v3/pushrules/global/room/${enc(group)}`);
  });

  it('data.format event_id_only sends only ids, priority, counts and devices', async () => {
    await setPusher('tablet', { format: 'event_id_only' });
    const id = await send(bob, dm, 'secret words');
    const n = await arrived(id, 'tablet');
    assertNotifyBody({ notification: n });
    expect(Object.keys(n).sort()).toEqual(['counts', 'devices', 'event_id', 'prio', 'room_id']);
    expect(n).toMatchObject({
      event_id: id,
      room_id: dm,
      prio: 'high',
      devices: [{ pushkey: 'tablet', data: { format: 'event_id_only' } }],
    });
    await arrived(id, 'phone'); // the other pusher gets it in full
  });

  it('a 500 is retried with backoff and the push is delivered once', async () => {
    gateway.failNext = 1;
    const id = await send(bob, dm, 'try again');
    await arrived(id, 'phone');
    await arrived(id, 'tablet');
    const attempts = gateway.requests.filter((r) => r.body.notification.event_id === id);
    expect(attempts.map((a) => a.status).sort()).toEqual([200, 200, 500]);
    const marker = await send(bob, dm, 'next one');
    await arrived(marker, 'phone');
    await arrived(marker, 'tablet');
    expect(idsTo('phone').filter((x) => x === id)).toHaveLength(1);
    expect(idsTo('tablet').filter((x) => x === id)).toHaveLength(1);
  });

  it('a pushkey the gateway rejects loses its pusher; the others keep pushing', async () => {
    gateway.reject.add('tablet');
    const id = await send(bob, dm, 'are you there, tablet?');
    await arrived(id, 'tablet');
    await waitFor(async () => {
      const res = await call(p, alice, 'GET', '/_matrix/client/v3/pushers');
      return res.body.pushers.map((x: { pushkey: string }) => x.pushkey).join() === 'phone';
    });
    const marker = await send(bob, dm, 'phone only now');
    await arrived(marker, 'phone');
    expect(idsTo('tablet')).not.toContain(marker);
    expect(p.services.pusherDelivery.worker(alice.userId, APP_ID, 'tablet')).toBeUndefined();
  });

  it('reading sends a badge-only update with the new count', async () => {
    const id = await send(bob, dm, 'read me');
    const n = await arrived(id);
    expect(n.counts.unread).toBeGreaterThan(0);
    const r = await call(p, alice, 'POST', `/_matrix/client/v3/rooms/${enc(dm)}/receipt/m.read/${enc(id)}`, {});
    expect(r.status).toBe(200);
    await waitFor(
      () => deliveredTo('phone').some((x) => x.event_id === undefined && x.counts.unread === n.counts.unread - 1),
      10_000,
      'badge',
    );
    const badge = deliveredTo('phone').find((x) => x.event_id === undefined)!;
    assertNotifyBody({ notification: badge });
    expect(badge).toEqual({ counts: { unread: n.counts.unread - 1 }, devices: [expect.objectContaining({ pushkey: 'phone' })] });
  });

  it('a push failing for longer than giveUpAfterMs is dropped and the pusher moves on', async () => {
    const settings = p.services.pusherDelivery.settings;
    settings.giveUpAfterMs = 300;
    gateway.failNext = 1_000_000;
    const lost = await send(bob, dm, 'lost to a long outage');
    await waitFor(() => gateway.requests.filter((r) => r.body.notification.event_id === lost).length >= 3, 10_000, 'failing attempts');
    const { rows } = await p.db.query<{ pos: string }>('SELECT stream_ordering AS pos FROM hs_events WHERE event_id = $1', [lost]);
    await waitFor(
      async () => {
        const r = await p.db.query<{ pos: string }>(`SELECT last_stream_ordering AS pos FROM hs_pushers WHERE pushkey = 'phone'`);
        return Number(r.rows[0]!.pos) >= Number(rows[0]!.pos);
      },
      10_000,
      'the pusher to give up',
    );
    gateway.failNext = 0;
    settings.giveUpAfterMs = 24 * 60 * 60 * 1000;
    const next = await send(bob, dm, 'after the outage');
    await arrived(next);
    expect(idsTo('phone')).not.toContain(lost);
  });

  it('an invite is pushed to the invited user', async () => {
    const room = (await call(p, carol, 'POST', '/_matrix/client/v3/createRoom', { invite: [alice.userId] })).body.room_id;
    await waitFor(() => deliveredTo('phone').some((n) => n.room_id === room), 10_000, 'invite push');
    const n = deliveredTo('phone').find((x) => x.room_id === room)!;
    expect(n).toMatchObject({ type: 'm.room.member', membership: 'invite', user_is_target: true, sender: carol.userId, prio: 'high' });
  });
});

describe('GET /notifications with pushers', () => {
  it('items carry no profile_tag (rules have none; Synapse answers null, which the spec’s string type refuses)', async () => {
    await call(p, alice, 'POST', '/_matrix/client/v3/pushers/set', {
      kind: 'http',
      app_id: APP_ID,
      pushkey: 'tagged',
      app_display_name: 'Element',
      device_display_name: 'tagged',
      profile_tag: 'mobile',
      lang: 'en',
      data: { url: gateway.url },
    });
    const res = await call(p, alice, 'GET', '/_matrix/client/v3/notifications?limit=5');
    expect(res.status).toBe(200);
    spec.assertResponse('GET', '/_matrix/client/v3/notifications', 200, res.body);
    expect(res.body.notifications.length).toBeGreaterThan(0);
    for (const n of res.body.notifications) expect(n).not.toHaveProperty('profile_tag');
  });
});
