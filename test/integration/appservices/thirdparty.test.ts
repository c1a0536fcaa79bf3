import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../../homeserver/platform.js';
import { buildPlatform, call, enc, makeUser, SERVER_NAME, type TestUser } from '../../helpers/platform.js';
import { FakeAppservice, registration, registrationFile } from './delivery-helpers.js';
import { specValidator } from '../../helpers/openapi/spec-validator.js';

const spec = await specValidator();

/**
 * Third-party lookups proxied over real HTTP to the appservices declaring the protocol: two IRC
 * bridges (their instances merged), a Slack bridge, and a broken IRC bridge that answers 500
 * (left out, never failing the client).
 */
let p: Platform;
let user: TestUser;
const ircA = new FakeAppservice();
const ircB = new FakeAppservice();
const ircBroken = new FakeAppservice();
const slack = new FakeAppservice();

const protocol = (network: string) => ({
  user_fields: ['network', 'nickname'],
  location_fields: ['network', 'channel'],
  icon: 'mxc://example.org/irc',
  field_types: {
    network: { regexp: '([a-z0-9]+\\.)*[a-z0-9]+', placeholder: 'irc.example.org' },
    nickname: { regexp: '[^\\s#]+', placeholder: 'username' },
    channel: { regexp: '#[^\\s]+', placeholder: '#foobar' },
  },
  instances: [{ desc: network, fields: { network }, network_id: network }],
});

beforeAll(async () => {
  await Promise.all([ircA.start(), ircB.start(), ircBroken.start(), slack.start()]);
  ircA.onThirdParty = (path, q) => {
    if (path === '/protocol/irc') return { status: 200, body: protocol('libera') };
    if (path === '/location/irc')
      return { status: 200, body: [{ alias: '#irc_libera_matrix:test.local', protocol: 'irc', fields: Object.fromEntries(q) }] };
    if (path === '/user/irc')
      return { status: 200, body: [{ userid: '@irc_alice:test.local', protocol: 'irc', fields: Object.fromEntries(q) }] };
    if (path === '/location') return { status: 200, body: [{ alias: q.get('alias'), protocol: 'irc', fields: { channel: '#matrix' } }] };
    if (path === '/user') return { status: 200, body: [{ userid: q.get('userid'), protocol: 'irc', fields: { nickname: 'alice' } }] };
    return { status: 404, body: { errcode: 'M_NOT_FOUND' } };
  };
  ircB.onThirdParty = (path) => {
    if (path === '/protocol/irc') return { status: 200, body: protocol('oftc') };
    if (path === '/location/irc') return { status: 200, body: 'not a list' };
    return { status: 404, body: {} };
  };
  ircBroken.onThirdParty = () => ({ status: 500, body: { errcode: 'M_UNKNOWN' } });
  slack.onThirdParty = (path) =>
    path === '/protocol/slack'
      ? { status: 200, body: { ...protocol('acme'), user_fields: ['team', 'user'], location_fields: ['team', 'channel'] } }
      : { status: 404, body: {} };
  const files = [
    registrationFile(registration('irca', ircA.url, '@irca_.*:test\\.local', { protocols: ['irc'] })),
    registrationFile(registration('ircb', ircB.url, '@ircb_.*:test\\.local', { protocols: ['irc'] })),
    registrationFile(registration('ircbroken', ircBroken.url, '@ircx_.*:test\\.local', { protocols: ['irc'] })),
    registrationFile(registration('slack', slack.url, '@slack_.*:test\\.local', { protocols: ['slack'] })),
  ];
  p = await buildPlatform({ appservices: { registration_files: files } });
  user = await makeUser(p, 'user');
}, 30_000);

afterAll(async () => {
  await p?.close();
  await Promise.all([ircA.close(), ircB.close(), ircBroken.close(), slack.close()]);
});

describe('third-party lookups', () => {
  it('GET /thirdparty/protocols merges the instances of every appservice declaring a protocol', async () => {
    const r = await call(p, user, 'GET', '/_matrix/client/v3/thirdparty/protocols');
    expect(r.status).toBe(200);
    expect(Object.keys(r.body).sort()).toEqual(['irc', 'slack']);
    expect(r.body.irc.instances.map((i: { network_id: string }) => i.network_id).sort()).toEqual(['libera', 'oftc']);
    const ids = r.body.irc.instances.map((i: { instance_id: string }) => i.instance_id);
    expect(new Set(ids).size).toBe(2);
    expect(JSON.parse(ids[0])).toHaveProperty('appservice_id');
    expect(r.body.slack.user_fields).toEqual(['team', 'user']);
    spec.assertResponse('get', '/_matrix/client/v3/thirdparty/protocols', 200, r.body);
  });

  it('GET /thirdparty/protocol/{protocol}: merged metadata; an unknown protocol is 404 M_NOT_FOUND', async () => {
    const r = await call(p, user, 'GET', '/_matrix/client/v3/thirdparty/protocol/irc');
    expect(r.status).toBe(200);
    expect(r.body.instances).toHaveLength(2);
    spec.assertResponse('get', '/_matrix/client/v3/thirdparty/protocol/irc', 200, r.body);
    const unknown = await call(p, user, 'GET', '/_matrix/client/v3/thirdparty/protocol/matrix-over-carrier-pigeon');
    expect(unknown).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND' } });
  });

  it('GET /thirdparty/location/{protocol} and /user/{protocol} pass the fields and concatenate valid answers', async () => {
    const loc = await call(p, user, 'GET', '/_matrix/client/v3/thirdparty/location/irc?network=libera&channel=%23matrix');
    expect(loc.status).toBe(200);
    expect(loc.body).toEqual([
      { alias: '#irc_libera_matrix:test.local', protocol: 'irc', fields: { network: 'libera', channel: '#matrix' } },
    ]);
    spec.assertResponse('get', '/_matrix/client/v3/thirdparty/location/irc', 200, loc.body);
    expect(ircA.queries).toContain('thirdparty:/location/irc?network=libera&channel=%23matrix');
    expect(slack.queries.some((q) => q.startsWith('thirdparty:/location'))).toBe(false);
    const usr = await call(p, user, 'GET', '/_matrix/client/v3/thirdparty/user/irc?nickname=alice');
    expect(usr.body).toEqual([{ userid: '@irc_alice:test.local', protocol: 'irc', fields: { nickname: 'alice' } }]);
    const unknown = await call(p, user, 'GET', '/_matrix/client/v3/thirdparty/user/nope?x=1');
    expect(unknown).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND' } });
  });

  it('reverse lookups: /location?alias= and /user?userid=; the parameter is required', async () => {
    const alias = `#irc_libera_matrix:${SERVER_NAME}`;
    const loc = await call(p, user, 'GET', `/_matrix/client/v3/thirdparty/location?alias=${enc(alias)}`);
    expect(loc).toMatchObject({ status: 200, body: [{ alias, protocol: 'irc' }] });
    spec.assertResponse('get', '/_matrix/client/v3/thirdparty/location', 200, loc.body);
    const usr = await call(p, user, 'GET', `/_matrix/client/v3/thirdparty/user?userid=${enc('@irc_alice:test.local')}`);
    expect(usr).toMatchObject({ status: 200, body: [{ userid: '@irc_alice:test.local' }] });
    const missing = await call(p, user, 'GET', '/_matrix/client/v3/thirdparty/location');
    expect(missing).toMatchObject({ status: 400, body: { errcode: 'M_MISSING_PARAM' } });
  });

  it('requires authentication', async () => {
    const r = await call(p, undefined, 'GET', '/_matrix/client/v3/thirdparty/protocols');
    expect(r).toMatchObject({ status: 401, body: { errcode: 'M_MISSING_TOKEN' } });
  });
});
