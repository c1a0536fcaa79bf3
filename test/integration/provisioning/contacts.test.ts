import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { Db } from '../../../homeserver/storage/db.js';
import { loginId } from '../../../bridges/core/network/ids.js';
import type { NetworkClient } from '../../../bridges/core/network/network-client.js';
import { phoneLogin, provisioningDb, provisioningFixture, type FixtureOptions } from './fixture.js';

let db: Db & { schema: string };
beforeAll(async () => {
  db = await provisioningDb();
});
afterAll(async () => {
  await db.close();
});

async function loggedIn(opts: FixtureOptions = {}) {
  const f = await provisioningFixture(db, opts);
  onTestFinished(() => f.close());
  const me = f.net.addUser({ name: 'Me', phone: '+15550301' });
  const bob = f.net.addUser({ name: 'Bob', phone: '+15550302' });
  const carol = f.net.addUser({ name: 'Carol', phone: '+15550303' });
  f.net.dm(me.id, bob.id);
  const alice = f.admin('@alice:test');
  const login = await phoneLogin(f, alice, me.phone);
  return { f, alice, login, me, bob, carol };
}

describe('contacts, resolve_identifier, create_dm', () => {
  it('lists the contacts of the login with their ghosts', async () => {
    const { alice, bob } = await loggedIn();
    const res = await alice.get('/contacts');
    expect(res).toEqual({
      status: 200,
      body: { contacts: [{ id: bob.id, name: 'Bob', identifiers: [bob.phone], mxid: `@fakenet_${bob.id}:test` }] },
    });
  });

  it('resolves an identifier without creating anything, and 404s an unknown one', async () => {
    const { f, alice, carol } = await loggedIn();
    const res = await alice.get(`/resolve_identifier/${encodeURIComponent(carol.phone)}`);
    expect(res).toEqual({
      status: 200,
      body: { id: carol.id, name: 'Carol', identifiers: [carol.phone], mxid: `@fakenet_${carol.id}:test` },
    });
    expect(f.dms).toEqual([]);
    const unknown = await alice.get('/resolve_identifier/%2B19999999999');
    expect(unknown).toEqual({ status: 404, body: { errcode: 'M_NOT_FOUND', error: 'Identifier not found' } });
  });

  it('creates a DM portal through the injected createDm: 201 first, 200 once it exists', async () => {
    const { f, alice, login, carol } = await loggedIn();
    const created = await alice.post(`/create_dm/${encodeURIComponent(carol.phone)}`);
    expect(created).toEqual({
      status: 201,
      body: { id: carol.id, name: 'Carol', identifiers: [carol.phone], mxid: `@fakenet_${carol.id}:test`, dm_room_mxid: '!dm1:test' },
    });
    expect(f.dms).toEqual([{ loginId: login, target: carol.id }]);
    const again = await alice.post(`/create_dm/${carol.id}`);
    expect(again.status).toBe(200);
    expect(again.body.dm_room_mxid).toBe('!dm1:test');
    // The network now has the DM, so the contact list shows it with its room.
    const contacts = await alice.get('/contacts');
    expect(contacts.body.contacts).toContainEqual(expect.objectContaining({ id: carol.id, dm_room_mxid: '!dm1:test' }));
  });

  it('picks the login by login_id, which must be one of the user’s', async () => {
    const { f, alice, login, bob } = await loggedIn();
    expect((await alice.get(`/contacts?login_id=${login}`)).body.contacts).toHaveLength(1);
    const foreign = await f.admin('@bob:test').get(`/contacts?login_id=${login}`);
    expect(foreign).toEqual({ status: 404, body: { errcode: 'M_NOT_FOUND', error: 'Login not found' } });
    expect((await f.admin('@bob:test').get(`/resolve_identifier/${bob.id}`)).body).toEqual({
      errcode: 'FI.MAU.NOT_LOGGED_IN',
      error: 'Not logged in',
    });
  });

  it('says so when the login has no running session here (503)', async () => {
    const { f } = await loggedIn();
    await f.store.upsert({ loginId: loginId('u-elsewhere'), userMxid: '@dave:test', remoteName: 'Elsewhere', metadata: {} });
    const res = await f.admin('@dave:test').get('/contacts');
    expect(res).toEqual({
      status: 503,
      body: { errcode: 'IO.CAUSEWAY_LOGIN_NOT_RUNNING', error: 'The login is not connected in this bridge process' },
    });
  });

  it('answers a network failure with 502 IO.CAUSEWAY_NETWORK_ERROR', async () => {
    const { f, alice, me } = await loggedIn();
    f.net.dropConnections(me.id);
    const res = await alice.get('/contacts');
    expect(res.status).toBe(502);
    expect(res.body).toMatchObject({ errcode: 'IO.CAUSEWAY_NETWORK_ERROR', retryable: true });
  });

  it('answers 501 M_UNRECOGNIZED when the network cannot list or resolve', async () => {
    const bare = { isLoggedIn: () => true } as unknown as NetworkClient;
    const { alice } = await loggedIn({ deps: { client: () => bare } });
    expect(await alice.get('/contacts')).toEqual({
      status: 501,
      body: { errcode: 'M_UNRECOGNIZED', error: 'This bridge does not support listing contacts' },
    });
    expect((await alice.post('/create_dm/someone')).status).toBe(501);
  });
});
