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

it('a typing notice whose timer died with the process still ends: the restarted one announces it', async () => {
  const eph = new FakeAppservice();
  await eph.start();
  const tdb = await freshSchemaDb();
  try {
    const file = registrationFile(registration('typingrestart', eph.url, '@bob_typing:test\\.local', { receive_ephemeral: true }));
    const config = testConfig({ appservices: { registration_files: [file] } });
    const p1 = await createPlatform({ config, db: tdb, log: createLogger(config.log.level) });
    await waitFor(() => p1.delivery!.loop('typingrestart')?.position !== undefined);
    const bob = await makeUser(p1, 'bob_typing');
    const room = await createRoom(p1, bob);
    const typing = () =>
      eph.accepted.flatMap((t) => (t.body['de.sorunome.msc2409.ephemeral'] as { type: string; content: { user_ids: string[] } }[]) ?? []);
    const r = await p1.app.inject({
      method: 'PUT',
      url: `/_matrix/client/v3/rooms/${encodeURIComponent(room)}/typing/${encodeURIComponent(bob.userId)}`,
      headers: bob.auth,
      payload: { typing: true, timeout: 1500 },
    });
    expect(r.statusCode).toBe(200);
    await waitFor(() => typing().some((e) => e.type === 'm.typing' && e.content.user_ids.includes(bob.userId)), 15_000, 'typing');
    await p1.close(); // its expiry timer goes with it

    const p2 = await createPlatform({ config, db: tdb, log: createLogger(config.log.level) });
    try {
      await waitFor(() => typing().at(-1)?.content.user_ids.length === 0, 15_000, 'typing end after the restart');
      expect(typing().at(-1)).toMatchObject({ type: 'm.typing', content: { user_ids: [] } });
    } finally {
      await p2.close();
    }
  } finally {
    await tdb.close();
    await eph.close();
  }
}, 60_000);
