import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../../homeserver/platform.js';
import { buildPlatform, call, enc, makeUser, type TestUser } from '../../helpers/platform.js';
import { createRoom, FakeAppservice, roomEventIds, sendMessages, waitFor, type RecordedTxn } from './delivery-helpers.js';

/**
 * A runtime registration edited through the admin API (PUT) while its delivery loop is busy: the
 * url moves to another listener and back, and the namespaces change. Every event reaches the
 * appservice once, in order, across both listeners; the only repeats allowed are re-sent txnIds
 * carrying exactly the same events.
 */
let p: Platform;
let admin: TestUser;
let alice: TestUser;
const first = new FakeAppservice();
const second = new FakeAppservice();
const BASE = '/_causeway/admin/v1/appservices';

const doc = (url: string, userRegexes: string[]) => ({
  id: 'edited',
  url,
  as_token: 'edited-as-token',
  hs_token: 'edited-hs-token',
  sender_localpart: 'editedbot',
  namespaces: { users: userRegexes.map((regex) => ({ exclusive: false, regex })) },
});

beforeAll(async () => {
  await Promise.all([first.start(), second.start()]);
  p = await buildPlatform();
  admin = await makeUser(p, 'admin');
  await p.db.query('UPDATE hs_users SET is_admin = true WHERE user_id = $1', [admin.userId]);
  await p.services.users.changed(admin.userId);
  alice = await makeUser(p, 'edit_alice');
  expect((await call(p, admin, 'POST', BASE, doc(first.url, ['@edit_.*:test\\.local']))).status).toBe(200);
  await waitFor(() => p.delivery!.loop('edited')?.position !== undefined, 15_000, 'delivery loop');
}, 30_000);

afterAll(async () => {
  await p?.close();
  await Promise.all([first.close(), second.close()]);
});

describe('editing a registration while it delivers', () => {
  it('loses and duplicates nothing across url and namespace changes', async () => {
    const room = await createRoom(p, alice);
    const edits = (async () => {
      const put = async (body: unknown) => {
        const r = await call(p, admin, 'PUT', `${BASE}/edited`, body);
        expect(r.status, JSON.stringify(r.body)).toBe(200);
      };
      await waitFor(() => first.deliveredIds.length >= 20, 20_000, 'first deliveries');
      await put(doc(second.url, ['@edit_.*:test\\.local'])); // moves to the second listener
      await waitFor(() => second.deliveredIds.length >= 20, 20_000, 'deliveries after the move');
      await put(doc(second.url, ['@edit_.*:test\\.local', '@other_.*:test\\.local'])); // namespaces only: no restart
      await new Promise((r) => setTimeout(r, 50));
      await put(doc(first.url, ['@edit_.*:test\\.local'])); // and back
    })();
    await sendMessages(p, alice, room, 150, 'edit');
    await edits;
    const expected = await roomEventIds(p, room);

    const accepted = (): RecordedTxn[] => {
      const seen = new Map<string, RecordedTxn>();
      for (const t of [...first.attempts, ...second.attempts]) if (t.status === 200 && !seen.has(t.txnId)) seen.set(t.txnId, t);
      return [...seen.values()].sort((a, b) => Number(a.txnId) - Number(b.txnId));
    };
    await waitFor(() => accepted().flatMap((t) => t.eventIds).length >= expected.length, 30_000, 'everything delivered');
    await new Promise((r) => setTimeout(r, 200));

    expect(accepted().flatMap((t) => t.eventIds)).toEqual(expected);
    // Both listeners took part, and a txnId seen twice (anywhere) carried the same events each time.
    expect(first.accepted.length).toBeGreaterThan(0);
    expect(second.accepted.length).toBeGreaterThan(0);
    const byTxn = new Map<string, string>();
    for (const t of [...first.attempts, ...second.attempts]) {
      const ids = JSON.stringify(t.eventIds);
      expect(byTxn.get(t.txnId) ?? ids).toBe(ids);
      byTxn.set(t.txnId, ids);
    }
    expect(p.services.appservices!.byId('edited')!.url).toBe(first.url);
  }, 90_000);

  it('rejects an edit that renames, conflicts or targets a config registration, naming the field', async () => {
    const renamed = await call(p, admin, 'PUT', `${BASE}/edited`, { ...doc(first.url, ['@edit_.*:test\\.local']), id: 'other' });
    expect(renamed).toMatchObject({ status: 400, body: { errcode: 'M_INVALID_PARAM' } });
    expect(renamed.body.error).toContain('id');
    const badRegex = await call(p, admin, 'PUT', `${BASE}/edited`, doc(first.url, ['(unclosed']));
    expect(badRegex).toMatchObject({ status: 400, body: { errcode: 'M_INVALID_PARAM' } });
    expect(badRegex.body.error).toContain('namespaces.users');
    const missing = await call(p, admin, 'PUT', `${BASE}/${enc('nobody')}`, { ...doc(first.url, []), id: 'nobody' });
    expect(missing).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND' } });
    const notAdmin = await call(p, alice, 'PUT', `${BASE}/edited`, doc(first.url, ['@edit_.*:test\\.local']));
    expect(notAdmin.status).toBe(403);
  });
});
