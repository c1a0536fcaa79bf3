import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import type { Platform } from '../../../homeserver/platform.js';
import { specValidator } from '../../helpers/openapi/spec-validator.js';
import { buildPlatform, call, makeUser, testConfig, type TestUser } from '../../helpers/platform.js';

const spec = await specValidator();
const TURN = '/_matrix/client/v3/voip/turnServer';
const URIS = ['turn:turn.example.org:3478?transport=udp', 'turns:turn.example.org:443?transport=tcp'];
const SECRET = 'a-coturn-static-auth-secret';

let p: Platform;
let user: TestUser;
beforeAll(async () => {
  p = await buildPlatform();
  user = await makeUser(p, 'caller');
});
afterAll(() => p.close());

/** The route reads the config per request: each case swaps in a `turn` section, defaults filled by the real schema. */
async function withPlatform(turn: Record<string, unknown>, check: (p: Platform, user: TestUser) => Promise<void>) {
  p.services.config.turn = testConfig({ turn }).turn;
  await check(p, user);
}

describe('GET /voip/turnServer', () => {
  it('with a shared secret: the TURN REST API credentials coturn checks (HMAC-SHA1 recomputed here)', async () => {
    await withPlatform({ uris: URIS, shared_secret: SECRET, user_lifetime_ms: 3_600_000 }, async (p, user) => {
      const before = Math.floor(Date.now() / 1000);
      const res = await call(p, user, 'GET', TURN);
      expect(res.status).toBe(200);
      spec.assertResponse('GET', TURN, 200, res.body);
      expect(res.body).toMatchObject({ uris: URIS, ttl: 3600 });
      const [expiry, ...rest] = (res.body.username as string).split(':');
      expect(rest.join(':')).toBe(user.userId);
      expect(Number(expiry)).toBeGreaterThanOrEqual(before + 3600);
      expect(Number(expiry)).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + 3600);
      expect(res.body.password).toBe(createHmac('sha1', SECRET).update(res.body.username).digest('base64'));
      // Standard padded base64, as coturn computes it.
      expect(res.body.password).toMatch(/^[A-Za-z0-9+/]{27}=$/);
      expect(JSON.stringify(res.body)).not.toContain(SECRET);
    });
  });

  it('with a static username/password: those, and the default lifetime of a day', async () => {
    await withPlatform({ uris: URIS, username: 'turnuser', password: 'turnpass' }, async (p, user) => {
      const res = await call(p, user, 'GET', TURN);
      expect(res).toEqual({ status: 200, body: { username: 'turnuser', password: 'turnpass', uris: URIS, ttl: 86400 } });
      spec.assertResponse('GET', TURN, 200, res.body);
    });
  });

  it('the shared secret wins over a static username/password', async () => {
    await withPlatform({ uris: URIS, shared_secret: SECRET, username: 'turnuser', password: 'turnpass' }, async (p, user) => {
      const res = await call(p, user, 'GET', TURN);
      expect(res.body.username).toMatch(new RegExp(`^\\d+:${user.userId}$`));
    });
  });

  it.each([
    ['no turn section', {}],
    ['uris but no credentials', { uris: URIS }],
    ['a username without its password', { uris: URIS, username: 'turnuser' }],
    ['a secret but no uris', { shared_secret: SECRET }],
  ])('%s: {} as Synapse (not spec-shaped, and never a 500)', async (_what, turn) => {
    await withPlatform(turn, async (p, user) => {
      expect(await call(p, user, 'GET', TURN)).toEqual({ status: 200, body: {} });
    });
  });

  it('needs an access token; r0 works too', async () => {
    await withPlatform({ uris: URIS, shared_secret: SECRET }, async (p, user) => {
      expect((await call(p, undefined, 'GET', TURN)).status).toBe(401);
      expect((await call(p, user, 'GET', TURN.replace('/v3/', '/r0/'))).status).toBe(200);
    });
  });

  it('refuses a non-TURN uri in the config', async () => {
    await expect(buildPlatform({ turn: { uris: ['https://turn.example.org'] } })).rejects.toThrow(/turn\/uris/);
  });
});
