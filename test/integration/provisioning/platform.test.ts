import { afterAll, beforeAll, expect, it } from 'vitest';
import { BRIDGE_MIGRATIONS } from '../../../bridges/core/storage/bridge-migrations.js';
import type { Platform } from '../../../homeserver/platform.js';
import { migrate } from '../../../homeserver/storage/migrate.js';
import { buildPlatform, makeUser } from '../../helpers/platform.js';
import { PREFIX, provisioningFixture, type Fixture } from './fixture.js';

let p: Platform;
let f: Fixture;

beforeAll(async () => {
  p = await buildPlatform();
  await migrate(p.db, [BRIDGE_MIGRATIONS]);
  // What the composition root will do: mount the plugin on the platform's app, with access tokens
  // checked by the homeserver's own token store.
  f = await provisioningFixture(p.db, {
    app: p.app,
    deps: {
      verifyAccessToken: async (token) => {
        const owner = await p.services.accounts.tokens.lookup(token);
        if (!owner) return undefined;
        const user = await p.services.users.get(owner.userId);
        return user && !user.deactivated ? owner.userId : undefined;
      },
    },
  });
});

afterAll(async () => {
  await f?.close();
  await p?.close();
});

it('logs a registered Matrix user in with their own access token, inside the platform app', async () => {
  const alice = await makeUser(p, 'alice');
  const me = f.net.addUser({ name: 'Alice Remote', phone: '+15550401' });
  const as = f.token(alice.accessToken);

  const start = await as.post('/login/start/phone');
  expect(start.status).toBe(200);
  const id = start.body.login_id;
  await as.post(`/login/step/${id}/fakenet.phone/user_input`, { phone_number: me.phone });
  const done = await as.post(`/login/step/${id}/fakenet.code/user_input`, { code: f.net.lastCode(me.phone) });
  expect(done.body.type).toBe('complete');

  const who = await as.get('/whoami');
  expect(who.body.logins).toEqual([expect.objectContaining({ id: done.body.complete.user_login_id, name: 'Alice Remote' })]);
  expect((await f.token('syt_not_a_token').get('/whoami')).body.errcode).toBe('M_UNKNOWN_TOKEN');

  // The plugin's errors stay under its prefix; the homeserver's routes are untouched.
  expect((await f.raw({ method: 'GET', url: `${PREFIX}/nope`, headers: alice.auth })).body.errcode).toBe('M_UNRECOGNIZED');
  const whoami = await p.app.inject({ method: 'GET', url: '/_matrix/client/v3/account/whoami', headers: alice.auth });
  expect(whoami.json()).toMatchObject({ user_id: alice.userId });
});
