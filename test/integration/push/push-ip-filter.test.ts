import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Platform } from '../../../homeserver/platform.js';
import { buildPlatform, call, enc, makeUser } from '../../helpers/platform.js';
import { FakeGateway, waitFor } from './fake-gateway.js';

const gateway = new FakeGateway();
let p: Platform;

beforeAll(async () => {
  await gateway.start();
  p = await buildPlatform(); // default push.ip_range_blacklist: private space, loopback included
});
afterAll(async () => {
  await p.close();
  await gateway.close();
});

it('a gateway at a blacklisted address is never contacted, and the pusher moves on', async () => {
  const alice = await makeUser(p, 'alice');
  const bob = await makeUser(p, 'bob');
  const dm = (await call(p, bob, 'POST', '/_matrix/client/v3/createRoom', { is_direct: true, invite: [alice.userId] })).body.room_id;
  await call(p, alice, 'POST', `/_matrix/client/v3/rooms/${enc(dm)}/join`, {});
  const set = await call(p, alice, 'POST', '/_matrix/client/v3/pushers/set', {
    kind: 'http',
    app_id: 'im.vector.app.android',
    pushkey: 'phone',
    app_display_name: 'Element',
    device_display_name: 'Phone',
    lang: 'en',
    data: { url: gateway.url }, // http://127.0.0.1:<port>/...: a valid pusher, an address we refuse to reach
  });
  expect(set.status).toBe(200);
  await call(p, bob, 'PUT', `/_matrix/client/v3/rooms/${enc(dm)}/send/m.room.message/1`, { msgtype: 'm.text', body: 'hi' });
  const { rows } = await p.db.query<{ m: string }>('SELECT max(stream_ordering) AS m FROM hs_events');
  const head = Number(rows[0]!.m);
  await waitFor(
    async () => {
      const r = await p.db.query<{ pos: string }>('SELECT last_stream_ordering AS pos FROM hs_pushers');
      return Number(r.rows[0]?.pos) >= head;
    },
    10_000,
    'the pusher to pass the message',
  );
  expect(gateway.requests).toEqual([]);
});
