import { describe, expect, it } from 'vitest';
import { saveLoginSecrets } from '../../../bridges/core/crypto-store/login-secrets.js';
import { FakeNetwork, FakenetConnector, makeLoginId, testLoginContext } from '../../fakes/fakenet/index.js';
import { connectedLogin } from './helpers.js';

describe('fakenet sessions', () => {
  it('connects with the stored session and reports CONNECTED', async () => {
    const { net, me, t, client } = await connectedLogin();
    expect(t.states.map((s) => s.stateEvent)).toEqual(['CONNECTED']);
    expect(client.isLoggedIn()).toBe(true);
    expect(net.connectionCount(me.id)).toBe(1);
  });

  it('connecting the same session twice kicks the older connection (StreamReplaced)', async () => {
    const { net, me, token, t: first, connector } = await connectedLogin();
    const second = testLoginContext({ loginId: makeLoginId(me.id) });
    await saveLoginSecrets(second.ctx.keys, { session: new TextEncoder().encode(token) });
    await connector.loadLogin(second.ctx).connect(second.ctx.signal);

    expect(await first.nextState((s) => s.stateEvent !== 'CONNECTED')).toMatchObject({
      stateEvent: 'UNKNOWN_ERROR',
      error: 'fakenet-stream-replaced',
    });
    expect(second.states.map((s) => s.stateEvent)).toEqual(['CONNECTED']);
    expect(net.kicks(token)).toBe(1);
    expect(net.kicks(me.id)).toBe(1);
    expect(net.kicks()).toBe(1);
    expect(net.connectionCount(me.id)).toBe(1);

    // Only the newer connection still receives pushes.
    const other = net.addUser({ name: 'Other' });
    net.send(other.id, net.dm(other.id, me.id), 'hello');
    await second.nextEvent((e) => e.type === 'message');
    expect(first.events).toEqual([]);
  });

  it('a client reconnecting its own session does not count as a kick', async () => {
    const { net, token, t, client } = await connectedLogin();
    await client.connect(t.ctx.signal);
    expect(net.kicks(token)).toBe(0);
    expect(t.states.map((s) => s.stateEvent)).toEqual(['CONNECTED', 'CONNECTED']);
  });

  it('overlapping connects never kick each other, and disconnect() wins over an in-flight connect', async () => {
    const { net, me, token, t, client } = await connectedLogin();
    await Promise.all([client.connect(t.ctx.signal), client.connect(t.ctx.signal), client.connect(t.ctx.signal)]);
    expect(net.kicks(token)).toBe(0);
    expect(net.connectionCount(me.id)).toBe(1);

    const pending = client.connect(t.ctx.signal);
    await client.disconnect();
    await pending;
    expect(net.connectionCount(me.id)).toBe(0);
    expect(net.kicks(token)).toBe(0);
  });

  it('revokeSession logs the client out and further connects fail with LOGGED_OUT', async () => {
    const { net, token, t, client } = await connectedLogin();
    net.revokeSession(token);
    expect(await t.nextState((s) => s.stateEvent !== 'CONNECTED')).toMatchObject({ stateEvent: 'LOGGED_OUT' });
    expect(client.isLoggedIn()).toBe(false);
    await client.connect(t.ctx.signal);
    expect(t.states.at(-1)).toMatchObject({ stateEvent: 'LOGGED_OUT' });
  });

  it('failNextConnect injects one transient or bad-credentials failure', async () => {
    const { net, me, token, t, client } = await connectedLogin();
    net.failNextConnect(token, 'transient');
    await client.connect(t.ctx.signal);
    expect(t.states.at(-1)).toMatchObject({ stateEvent: 'TRANSIENT_DISCONNECT' });
    await client.connect(t.ctx.signal);
    expect(t.states.at(-1)).toMatchObject({ stateEvent: 'CONNECTED' });

    net.failNextConnect(me.id, 'bad_credentials');
    await client.connect(t.ctx.signal);
    expect(t.states.at(-1)).toMatchObject({ stateEvent: 'BAD_CREDENTIALS' });
    expect(client.isLoggedIn()).toBe(false);
  });

  it('dropConnections reports TRANSIENT_DISCONNECT and the session still works after', async () => {
    const { net, me, t, client } = await connectedLogin();
    net.dropConnections(me.id);
    expect(await t.nextState((s) => s.stateEvent !== 'CONNECTED')).toMatchObject({ stateEvent: 'TRANSIENT_DISCONNECT' });
    expect(net.connectionCount()).toBe(0);
    await client.connect(t.ctx.signal);
    expect(t.states.at(-1)).toMatchObject({ stateEvent: 'CONNECTED' });
  });

  it('a login without a stored session, or with an unknown token, is BAD_CREDENTIALS', async () => {
    const net = new FakeNetwork();
    const connector = new FakenetConnector(net);
    const me = net.addUser({ name: 'Me' });
    const t = testLoginContext({ loginId: makeLoginId(me.id) });
    await connector.loadLogin(t.ctx).connect(t.ctx.signal);
    expect(t.states).toEqual([expect.objectContaining({ stateEvent: 'BAD_CREDENTIALS', error: 'fakenet-no-session' })]);

    await saveLoginSecrets(t.ctx.keys, { session: new TextEncoder().encode('forged') });
    await connector.loadLogin(t.ctx).connect(t.ctx.signal);
    expect(t.states.at(-1)).toMatchObject({ stateEvent: 'BAD_CREDENTIALS', error: 'fakenet-bad-credentials' });
  });

  it('aborting the login signal closes the connection without a state', async () => {
    const { net, me, t } = await connectedLogin();
    t.abort();
    expect(net.connectionCount(me.id)).toBe(0);
    expect(t.states.map((s) => s.stateEvent)).toEqual(['CONNECTED']);
  });

  it('logoutRemote revokes the session on the network', async () => {
    const { net, me, client } = await connectedLogin();
    await client.logoutRemote();
    expect(net.sessionsOf(me.id)).toEqual([]);
    expect(client.isLoggedIn()).toBe(false);
  });

  it('approxBytes moves with the contents (so a benchmark can subtract the fake share)', async () => {
    const net = new FakeNetwork();
    const a = net.addUser({ name: 'A' });
    const b = net.addUser({ name: 'B' });
    const empty = net.approxBytes();
    net.send(a.id, net.dm(a.id, b.id), { media: { bytes: new Uint8Array(50_000), mimeType: 'application/octet-stream' } });
    expect(net.approxBytes() - empty).toBeGreaterThanOrEqual(50_000);
  });
});
