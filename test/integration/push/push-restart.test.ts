import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createPlatform, type Platform } from '../../../homeserver/platform.js';
import { createLogger } from '../../../homeserver/runtime/logger.js';
import { freshSchemaDb } from '../../helpers/database.js';
import { call, enc, makeUser, testConfig, type TestUser } from '../../helpers/platform.js';
import { FakeGateway, waitFor } from './fake-gateway.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const gateway = new FakeGateway();
const prefix = `pushtest_${randomBytes(4).toString('hex')}`;
let db: Awaited<ReturnType<typeof freshSchemaDb>>;
const open: Platform[] = [];
let txn = 0;

/** A process on the shared schema and Redis, running `roles`. */
async function start(roles: string[]): Promise<Platform> {
  const config = testConfig({
    roles,
    runtime: { transport: 'redis', redis_url: REDIS_URL, redis_prefix: prefix },
    push: { ip_range_whitelist: ['127.0.0.1/32'] },
  });
  const p = await createPlatform({ config, db, log: createLogger(config.log.level) });
  Object.assign(p.services.pusherDelivery.settings, { leaseRetryMs: 100, backoffBaseMs: 50, backoffCapMs: 200 });
  open.push(p);
  return p;
}

async function stop(p: Platform): Promise<void> {
  open.splice(open.indexOf(p), 1);
  await p.close();
}

async function send(p: Platform, user: TestUser, roomId: string, body: string): Promise<string> {
  const res = await call(p, user, 'PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/r${txn++}`, {
    msgtype: 'm.text',
    body,
  });
  expect(res.status).toBe(200);
  return res.body.event_id;
}

const pushed = () => gateway.delivered.map((n) => n.event_id as string);

beforeAll(async () => {
  await gateway.start();
  db = await freshSchemaDb();
});
afterAll(async () => {
  for (const p of open.splice(0)) await p.close();
  await db?.close();
  await gateway.close();
});

it('a restart neither re-sends pushed events nor misses one sent while no process pushed; one process pushes at a time', async () => {
  const p1 = await start(['client_api', 'appservice_delivery']);
  const alice = await makeUser(p1, 'alice');
  const bob = await makeUser(p1, 'bob');
  const dm = (await call(p1, bob, 'POST', '/_matrix/client/v3/createRoom', { is_direct: true, invite: [alice.userId] })).body.room_id;
  await call(p1, alice, 'POST', `/_matrix/client/v3/rooms/${enc(dm)}/join`, {});
  const beforePusher = await send(p1, bob, dm, 'before the pusher existed');
  const set = await call(p1, alice, 'POST', '/_matrix/client/v3/pushers/set', {
    kind: 'http',
    app_id: 'io.element.elementx',
    pushkey: 'phone',
    app_display_name: 'Element X',
    device_display_name: 'Phone',
    lang: 'en',
    data: { url: gateway.url },
  });
  expect(set.status).toBe(200);
  const first = await send(p1, bob, dm, 'first');
  await waitFor(() => pushed().includes(first), 10_000, 'first push');
  await stop(p1);

  // Only a client API process runs: messages are accepted, nobody pushes.
  const api = await start(['client_api']);
  const whileDown = await send(api, bob, dm, 'sent while no pusher ran');
  await new Promise((r) => setTimeout(r, 300));
  expect(pushed()).toEqual([first]);

  // Two delivery processes come up: one takes the lease, pushes what was missed, once.
  const d1 = await start(['appservice_delivery']);
  const d2 = await start(['appservice_delivery']);
  await waitFor(() => pushed().includes(whileDown), 10_000, 'the missed push');
  const live = await send(api, bob, dm, 'sent with delivery running'); // committed by another process: woken over Redis
  await waitFor(() => pushed().includes(live), 10_000, 'a live push');
  expect(pushed()).toEqual([first, whileDown, live]);
  expect(pushed()).not.toContain(beforePusher);

  // The holder dies; the other takes over from the stored position.
  const holder = [d1, d2].find((d) => d.services.pusherDelivery.worker(alice.userId, 'io.element.elementx', 'phone'))!;
  expect(holder).toBeDefined();
  await stop(holder);
  const afterTakeover = await send(api, bob, dm, 'after the takeover');
  await waitFor(() => pushed().includes(afterTakeover), 10_000, 'push after takeover');
  await new Promise((r) => setTimeout(r, 200));
  expect(pushed()).toEqual([first, whileDown, live, afterTakeover]);
}, 60_000);
