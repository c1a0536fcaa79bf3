import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import type { Platform } from '../../../homeserver/platform.js';
import { buildPlatform, call, enc, makeUser, type TestUser } from '../../helpers/platform.js';
import { FakeGateway, waitFor } from './fake-gateway.js';

const gateway = new FakeGateway();
const APP_ID = 'im.vector.app.android';

let p: Platform;
let dave: TestUser;
let eve: TestUser;
let r1: string;
let r2: string;
let txn = 0;

async function send(roomId: string, body: string): Promise<string> {
  const res = await call(p, eve, 'PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/b${txn++}`, {
    msgtype: 'm.text',
    body,
  });
  expect(res.status).toBe(200);
  return res.body.event_id;
}

async function setPusher(pushkey: string): Promise<void> {
  const res = await call(p, dave, 'POST', '/_matrix/client/v3/pushers/set', {
    kind: 'http',
    app_id: APP_ID,
    pushkey,
    app_display_name: 'Element',
    device_display_name: pushkey,
    lang: 'en',
    data: { url: gateway.url },
  });
  expect(res.status).toBe(200);
}

const deliveredTo = (pushkey: string) => gateway.delivered.filter((n) => n.devices[0].pushkey === pushkey);
const pushesOf = (eventIds: string[]) => gateway.delivered.filter((n) => eventIds.includes(n.event_id));
const badgesTo = (pushkey: string) => deliveredTo(pushkey).filter((n) => n.event_id === undefined);

async function arrivedEverywhere(eventIds: string[]): Promise<void> {
  await waitFor(() => pushesOf(eventIds).length === eventIds.length * 2, 10_000, 'pushes to both pushers');
}

/**
 * Holds every pusher's next pass at its first step (reading the head) until released, so the events
 * sent meanwhile are all pushed in one pass, by both pushers, against one head.
 */
function holdPasses() {
  const delivery = p.services.pusherDelivery as unknown as { head(): Promise<number> };
  const head = delivery.head.bind(delivery);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const spy = vi.spyOn(delivery, 'head').mockImplementation(async () => {
    await gate;
    return head();
  });
  return () => {
    release();
    spy.mockRestore();
  };
}

beforeAll(async () => {
  await gateway.start();
  p = await buildPlatform({ push: { ip_range_whitelist: ['127.0.0.1/32'] } });
  dave = await makeUser(p, 'dave');
  eve = await makeUser(p, 'eve');
  r1 = (await call(p, eve, 'POST', '/_matrix/client/v3/createRoom', { preset: 'public_chat' })).body.room_id;
  r2 = (await call(p, eve, 'POST', '/_matrix/client/v3/createRoom', { preset: 'public_chat' })).body.room_id;
  for (const r of [r1, r2]) expect((await call(p, dave, 'POST', `/_matrix/client/v3/join/${enc(r)}`, {})).status).toBe(200);
  await setPusher('phone');
  await setPusher('tablet');
  // Both workers have caught up and wait for wake-ups.
  await arrivedEverywhere([await send(r1, 'warming up')]);
});
afterAll(async () => {
  vi.restoreAllMocks();
  await p.close();
  await gateway.close();
});

it('one badge count serves every event of a pass and every pusher of the user, and a read receipt refreshes it', async () => {
  const counts = vi.spyOn(p.services.notifications, 'unreadRooms');

  // Three events in two rooms, pushed in one pass to each of two pushers: six pushes, one count.
  const release = holdPasses();
  const batch = [await send(r1, 'one'), await send(r2, 'two'), await send(r1, 'three')];
  release();
  await arrivedEverywhere(batch);
  expect(pushesOf(batch).map((n) => n.counts.unread)).toEqual([2, 2, 2, 2, 2, 2]);
  expect(counts).toHaveBeenCalledTimes(1);

  // Reading r1 moves no stream position of events, yet the badge drops: both pushers get the new
  // count in a badge-only update, from one fresh count (not the one cached for this head).
  const read = await call(p, dave, 'POST', `/_matrix/client/v3/rooms/${enc(r1)}/receipt/m.read/${enc(batch[2]!)}`, {});
  expect(read.status).toBe(200);
  await waitFor(() => badgesTo('phone').length === 1 && badgesTo('tablet').length === 1, 10_000, 'badge updates');
  expect([...badgesTo('phone'), ...badgesTo('tablet')].map((n) => n.counts.unread)).toEqual([1, 1]);
  expect(counts).toHaveBeenCalledTimes(2);

  // The next push counts again (a later head) and carries the badge as of the receipt: r2 only.
  const next = await send(r2, 'four');
  await arrivedEverywhere([next]);
  expect(pushesOf([next]).map((n) => n.counts.unread)).toEqual([1, 1]);
  expect(counts).toHaveBeenCalledTimes(3);
});
