import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../../homeserver/platform.js';
import { appserviceAdd, appserviceList, appserviceRemove } from '../../../cli/appservices.js';
import { MemoryPubSub } from '../../../homeserver/runtime/memory-pubsub.js';
import { Registry, REGISTRATIONS_TOPIC } from '../../../appservice-api/registry.js';
import { buildPlatform, call, makeUser, SERVER_NAME, testConfig, type TestUser } from '../../helpers/platform.js';
import { TEST_DATABASE_URL } from '../../helpers/database.js';

let p: Platform;
let admin: TestUser;
let bob: TestUser;
let dir: string;

const doc = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  url: `http://127.0.0.1:1/${id}`,
  as_token: `${id}-as`,
  hs_token: `${id}-hs`,
  sender_localpart: `${id}bot`,
  namespaces: { users: [{ exclusive: true, regex: `@${id}_.*:test\\.local` }] },
  ...extra,
});

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'causeway-as-admin-'));
  const file = join(dir, 'fromconfig.yaml');
  writeFileSync(
    file,
    `id: fromconfig\nurl: inproc://fromconfig\nas_token: cfg-as\nhs_token: cfg-hs\nsender_localpart: cfgbot\nnamespaces:\n  users:\n    - exclusive: true\n      regex: '@cfg_.*:test\\.local'\n`,
  );
  p = await buildPlatform({ appservices: { registration_files: [file] } });
  admin = await makeUser(p, 'admin');
  bob = await makeUser(p, 'bob');
  await p.db.query('UPDATE hs_users SET is_admin = true WHERE user_id = $1', [admin.userId]);
  await p.services.users.changed(admin.userId);
});
afterAll(() => p.close());

const BASE = '/_causeway/admin/v1/appservices';

describe('admin API', () => {
  it('is for server admins only', async () => {
    expect((await call(p, bob, 'GET', BASE)).body.errcode).toBe('M_FORBIDDEN');
    expect((await call(p, bob, 'POST', BASE, doc('sneaky'))).status).toBe(403);
    expect((await call(p, undefined, 'GET', BASE)).status).toBe(401);
  });

  it('lists config registrations, adds, gets and removes runtime ones', async () => {
    const listed = await call(p, admin, 'GET', BASE);
    expect(listed.body.appservices.map((a: { id: string; source: string }) => [a.id, a.source])).toEqual([['fromconfig', 'config']]);

    const added = await call(p, admin, 'POST', BASE, doc('slack'));
    expect(added.status).toBe(200);
    expect(added.body).toMatchObject({ id: 'slack', source: 'runtime', sender_localpart: 'slackbot' });
    expect(JSON.stringify(added.body)).not.toContain('slack-as'); // tokens are not echoed

    // In force at once: the as_token authenticates, the namespace is exclusive.
    const who = await call(p, { ...bob, auth: { authorization: 'Bearer slack-as' } }, 'GET', '/_matrix/client/v3/account/whoami');
    expect(who.body.user_id).toBe(`@slackbot:${SERVER_NAME}`);
    const reg = await call(p, undefined, 'GET', '/_matrix/client/v3/register/available?username=slack_someone');
    expect(reg.body.errcode).toBe('M_EXCLUSIVE');

    expect((await call(p, admin, 'GET', `${BASE}/slack`)).body.id).toBe('slack');
    expect((await call(p, admin, 'DELETE', `${BASE}/slack`)).status).toBe(200);
    expect((await call(p, admin, 'GET', `${BASE}/slack`)).status).toBe(404);
    const gone = await call(p, { ...bob, auth: { authorization: 'Bearer slack-as' } }, 'GET', '/_matrix/client/v3/account/whoami');
    expect(gone.body.errcode).toBe('M_UNKNOWN_TOKEN');
    expect((await call(p, undefined, 'GET', '/_matrix/client/v3/register/available?username=slack_someone')).status).toBe(200);
  });

  it('rejects invalid or conflicting registrations naming the field', async () => {
    const bad = await call(p, admin, 'POST', BASE, doc('broken', { namespaces: { users: [{ exclusive: true, regex: '(' }] } }));
    expect(bad.status).toBe(400);
    expect(bad.body.errcode).toBe('M_INVALID_PARAM');
    expect(bad.body.error).toContain('namespaces.users[0].regex');
    const dupToken = await call(p, admin, 'POST', BASE, doc('dup', { as_token: 'cfg-as' }));
    expect(dupToken.body.error).toMatch(/^as_token: is already used by appservice fromconfig/);
    const overlap = await call(
      p,
      admin,
      'POST',
      BASE,
      doc('overlap', { namespaces: { users: [{ exclusive: true, regex: '@cfg_.*:test\\.local' }] } }),
    );
    expect(overlap.body.error).toContain('namespaces.users[0].regex: overlaps the exclusive namespace');
    const missing = await call(p, admin, 'POST', BASE, { id: 'x' });
    expect(missing.body.error).toBe('as_token: is required; hs_token: is required; sender_localpart: is required');
  });

  it('refuses to delete a config registration or an unknown one', async () => {
    expect((await call(p, admin, 'DELETE', `${BASE}/fromconfig`)).status).toBe(400);
    expect((await call(p, admin, 'DELETE', `${BASE}/nope`)).status).toBe(404);
  });
});

describe('CLI', () => {
  it('adds, lists and removes through Postgres; running processes reload on the pub/sub message', async () => {
    const config = testConfig({
      database: { engine: 'postgres', url: TEST_DATABASE_URL, schema: (p.db as unknown as { schema: string }).schema },
      appservices: { registration_files: [join(dir, 'fromconfig.yaml')] },
    });
    const file = join(dir, 'irc.yaml');
    writeFileSync(file, `id: irc\nurl: http://127.0.0.1:9999\nas_token: irc-as\nhs_token: irc-hs\nsender_localpart: ircbot\n`);
    expect((await appserviceAdd(config, file)).id).toBe('irc');
    expect(await appserviceList(config)).toEqual([
      { id: 'fromconfig', url: 'inproc://fromconfig', sender: `@cfgbot:${SERVER_NAME}`, source: 'config' },
      { id: 'irc', url: 'http://127.0.0.1:9999', sender: `@ircbot:${SERVER_NAME}`, source: 'runtime' },
    ]);
    // The CLI published on its own (memory) runtime; deliver the same message the Redis transport would.
    expect(p.services.appservices!.byId('irc')).toBeUndefined();
    await p.runtime.pubsub.publish(REGISTRATIONS_TOPIC, { added: 'irc' });
    await expect.poll(() => p.services.appservices!.byId('irc')?.id).toBe('irc');

    writeFileSync(join(dir, 'bad.yaml'), `id: bad\nas_token: irc-as\nhs_token: other\nsender_localpart: badbot\n`);
    await expect(appserviceAdd(config, join(dir, 'bad.yaml'))).rejects.toThrow(/bad\.yaml: as_token: is already used by appservice irc/);

    expect(await appserviceRemove(config, 'irc')).toBe(true);
    expect(await appserviceRemove(config, 'irc')).toBe(false);
    await p.runtime.pubsub.publish(REGISTRATIONS_TOPIC, { removed: 'irc' });
    await expect.poll(() => p.services.appservices!.byId('irc')).toBeUndefined();
  });

  it('two processes adding the same registrant (same tokens) at once both succeed; another one under that id is still refused', async () => {
    // What happens when several bridge workers of one bridge start together: each registers the same document.
    const registry = (pubsub = p.runtime.pubsub) => new Registry({ db: p.db, pubsub, serverName: SERVER_NAME, registrationFiles: [] });
    // `late` hears nothing from the others (a pub/sub of its own), as a process whose message is still in flight.
    const [a, b, late] = [registry(), registry(), registry(new MemoryPubSub())];
    for (const r of [a, b, late]) await r.start();
    const results = await Promise.allSettled([a.add(doc('twin')), b.add(doc('twin'))]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
    expect(a.byId('twin')?.asToken).toBe('twin-as');
    expect(b.byId('twin')?.asToken).toBe('twin-as');
    // `late` has not seen 'twin' yet, so only the insert can notice the clash.
    expect(late.byId('twin')).toBeUndefined();
    await expect(late.add(doc('twin', { as_token: 'other-as', hs_token: 'other-hs' }))).rejects.toThrow(
      /id: is already used by another registration/,
    );
    for (const r of [a, b, late]) await r.stop();
  });
});
