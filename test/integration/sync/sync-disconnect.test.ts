import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../../homeserver/platform.js';
import { buildPlatform, call, makeUser, type TestUser } from '../../helpers/platform.js';

let p: Platform;
let alice: TestUser;
let port: number;

beforeAll(async () => {
  p = await buildPlatform();
  alice = await makeUser(p, 'alice');
  await p.app.listen({ host: '127.0.0.1', port: 0 });
  port = (p.app.server.address() as AddressInfo).port;
});
afterAll(async () => {
  await p.close();
});

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(check()).toBe(true);
}

describe('a long-poll whose client disconnects', () => {
  it('stops waiting at once instead of holding its waiter until the timeout', async () => {
    const since = (await call(p, alice, 'GET', '/_matrix/client/v3/sync')).body.next_batch;
    const req = http.get({
      host: '127.0.0.1',
      port,
      path: `/_matrix/client/v3/sync?timeout=60000&since=${since}`,
      headers: { authorization: `Bearer ${alice.accessToken}` },
    });
    req.on('error', () => {}); // destroyed on purpose
    await until(() => p.services.notifier.waiting === 1);
    req.destroy();
    await until(() => p.services.notifier.waiting === 0);
  });
});
