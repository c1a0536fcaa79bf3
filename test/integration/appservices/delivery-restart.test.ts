import { afterAll, beforeAll, expect, it } from 'vitest';
import { createPlatform, type Platform } from '../../../homeserver/platform.js';
import { createLogger } from '../../../homeserver/runtime/logger.js';
import { freshSchemaDb } from '../../helpers/database.js';
import { makeUser, testConfig } from '../../helpers/platform.js';
import { createRoom, FakeAppservice, registration, registrationFile, roomEventIds, sendMessages, waitFor } from './delivery-helpers.js';

const as = new FakeAppservice();
let db: Awaited<ReturnType<typeof freshSchemaDb>>;
const platforms: Platform[] = [];

beforeAll(async () => {
  await as.start();
  db = await freshSchemaDb();
});

afterAll(async () => {
  for (const p of platforms) await p.close();
  await db?.close();
  await as.close();
});

it('the homeserver closed mid-delivery and restarted on the same database loses nothing and re-sends the same txnId', async () => {
  const file = registrationFile(registration('restart', as.url, '@alice_restart:test\\.local'));
  const config = testConfig({ appservices: { registration_files: [file] } });
  const start = async () => {
    const p = await createPlatform({ config, db, log: createLogger(config.log.level) });
    platforms.push(p);
    return p;
  };
  const p1 = await start();
  await waitFor(() => p1.delivery!.loop('restart')?.position !== undefined);
  const alice = await makeUser(p1, 'alice_restart');
  const room = await createRoom(p1, alice);
  await sendMessages(p1, alice, room, 20);
  await waitFor(async () => as.deliveredIds.length === (await roomEventIds(p1, room)).length, 15_000, 'first delivery');

  // The appservice starts failing; the homeserver is closed while a transaction is pending.
  as.mode = 'fail';
  await sendMessages(p1, alice, room, 150);
  await waitFor(() => as.attempts.some((a) => a.status === 503), 15_000, 'a failed attempt');
  const pending = as.attempts.filter((a) => a.status === 503).at(-1)!;
  await p1.close();
  platforms.splice(0);
  const attemptsBefore = as.attempts.length;

  as.mode = 'ok';
  const p2 = await start();
  const expected = await roomEventIds(p2, room);
  await waitFor(() => as.deliveredIds.length >= expected.length, 20_000, 'delivery after restart');
  await new Promise((r) => setTimeout(r, 100));
  expect(as.deliveredIds).toEqual(expected);
  // The first transaction after the restart is the one that was pending, with the same events.
  const firstAfter = as.attempts[attemptsBefore]!;
  expect(firstAfter.txnId).toBe(pending.txnId);
  expect(firstAfter.eventIds).toEqual(pending.eventIds);
  // Events the second platform commits reach the appservice too.
  const more = await sendMessages(p2, alice, room, 3);
  await waitFor(() => as.deliveredIds.length >= expected.length + 3, 15_000, 'new events');
  expect(as.deliveredIds.slice(-3)).toEqual(more);
}, 60_000);
