import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { Db } from '../../../homeserver/storage/db.js';
import { loginId } from '../../../bridges/core/network/ids.js';
import { phoneLogin, provisioningDb, provisioningFixture } from './fixture.js';

let db: Db & { schema: string };
beforeAll(async () => {
  db = await provisioningDb();
});
afterAll(async () => {
  await db.close();
});

async function fixture() {
  const f = await provisioningFixture(db);
  onTestFinished(() => f.close());
  return f;
}

describe('logins, whoami, logout', () => {
  it('lists several logins of a user with their states', async () => {
    const f = await fixture();
    f.net.addUser({ name: 'Work', phone: '+15550201' });
    f.net.addUser({ name: 'Home', phone: '+15550202' });
    const alice = f.admin('@alice:test');
    const work = await phoneLogin(f, alice, '+15550201');
    const home = await phoneLogin(f, alice, '+15550202');
    // A login stored but not running here: whoami shows the stored state.
    await f.store.upsert({ loginId: loginId('u-offline'), userMxid: '@alice:test', remoteName: 'Offline', metadata: {} });

    expect((await alice.get('/logins')).body.login_ids).toEqual([work, home, 'u-offline']);
    const who = await alice.get('/whoami');
    expect(who.body.logins.map((l: any) => [l.id, l.name, l.state.state_event])).toEqual([
      [work, 'Work', 'CONNECTED'],
      [home, 'Home', 'CONNECTED'],
      ['u-offline', 'Offline', 'CONNECTING'],
    ]);
    expect((await f.admin('@bob:test').get('/whoami')).body.logins).toEqual([]);
  });

  it('logs one login out through the injected logout (remotely), and only the owner may', async () => {
    const f = await fixture();
    const me = f.net.addUser({ name: 'Work', phone: '+15550211' });
    const alice = f.admin('@alice:test');
    const id = await phoneLogin(f, alice, '+15550211');
    expect(f.net.sessionsOf(me.id)).toHaveLength(1);

    const byBob = await f.admin('@bob:test').post(`/logout/${id}`);
    expect(byBob).toEqual({ status: 404, body: { errcode: 'M_NOT_FOUND', error: 'Login not found' } });
    expect(f.logouts).toEqual([]);

    expect(await alice.post(`/logout/${id}`)).toEqual({ status: 200, body: {} });
    expect(f.logouts).toEqual([{ loginId: id, remote: true }]);
    expect(f.net.sessionsOf(me.id)).toHaveLength(0);
    expect((await alice.get('/logins')).body.login_ids).toEqual([]);
    expect((await alice.post(`/logout/${id}`)).status).toBe(404);
  });

  it('logs out all logins of the user and no one else’s', async () => {
    const f = await fixture();
    for (const [name, phone] of [
      ['A1', '+15550221'],
      ['A2', '+15550222'],
      ['B1', '+15550223'],
    ]) {
      f.net.addUser({ name: name!, phone: phone! });
    }
    const alice = f.admin('@alice:test');
    const bob = f.admin('@bob:test');
    const a1 = await phoneLogin(f, alice, '+15550221');
    const a2 = await phoneLogin(f, alice, '+15550222');
    const b1 = await phoneLogin(f, bob, '+15550223');

    expect(await alice.post('/logout/all')).toEqual({ status: 200, body: {} });
    expect(f.logouts.map((l) => l.loginId).sort()).toEqual([a1, a2].sort());
    expect((await alice.get('/logins')).body.login_ids).toEqual([]);
    expect((await bob.get('/logins')).body.login_ids).toEqual([b1]);
  });
});
