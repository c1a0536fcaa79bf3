import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CryptoStore } from '../../../bridges/core/crypto-store/index.js';
import { remoteMessageId, type LoginId, type PortalKey, type RemoteChatId, type RemoteUserId } from '../../../bridges/core/network/ids.js';
import type { Platform } from '../../../homeserver/platform.js';
import { FakeNetwork } from '../../fakes/fakenet/index.js';
import { eventually, loginDirectly, startFakenetBridge, testCryptoStore, type TestBridge } from '../../helpers/bridge.js';
import { buildPlatform, enc, makeUser, type TestUser } from '../../helpers/platform.js';
import { promtoolCheck } from '../../helpers/promtool.js';

/**
 * The operator's view of one bridge, read from the registry the bridge was given: remote and
 * Matrix event rates by type, final failures delivering into Matrix by errcode, queue depths at
 * scrape time, and the session pool's metrics on the same registry.
 */
let p: Platform;
let net: FakeNetwork;
let keys: CryptoStore;
let bridge: TestBridge;
let stopped = false;
/** Opens the portal blocked by the queue-depth test (also at teardown, should that test fail while it is shut). */
let releaseGate = (): void => undefined;
let alice: TestUser;
let me: string;
let bob: string;
let dm: string;
let roomId: string;
const registry = new Registry();

const matrix = async (method: string, path: string, body?: unknown): Promise<any> =>
  (await p.app.inject({ method: method as 'GET', url: path, headers: alice.auth, ...(body ? { payload: body as object } : {}) })).json();

/** One series of a metric as a scrape would read it (collectors run); 0 when the series is absent. */
async function sample(name: string, labels: Record<string, string>): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) throw new Error(`${name} is not registered`);
  const { values } = await metric.get();
  const series = values.find((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want));
  return series?.value ?? 0;
}

/** A DM is a portal per login (its receiver). */
const dmPortal = (): PortalKey => ({ chatId: dm as RemoteChatId, receiver: me as LoginId });

const roomBodies = async (): Promise<string[]> =>
  (await matrix('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/messages?dir=b&limit=50`)).chunk.map((e: any) => e.content?.body);

beforeAll(async () => {
  p = await buildPlatform();
  await p.app.listen({ host: '127.0.0.1', port: 0 });
  const baseUrl = `http://127.0.0.1:${(p.app.server.address() as { port: number }).port}`;
  net = new FakeNetwork();
  me = net.addUser({ name: 'Me', phone: '+15550301' }).id;
  bob = net.addUser({ name: 'Bob', phone: '+15550302' }).id;
  dm = net.dm(me, bob);
  keys = testCryptoStore(p.db);
  bridge = await startFakenetBridge({ platform: p, baseUrl, net, keys, metrics: registry, config: { backfill: { initial_limit: 0 } } });
  alice = await makeUser(p, 'alice');
  await loginDirectly(bridge.bridge, keys, net, alice.userId, me);
  net.send(bob, dm, 'hello');
  roomId = await eventually(async () => Object.keys((await matrix('GET', '/_matrix/client/v3/sync?timeout=0')).rooms?.invite ?? {})[0]);
  await matrix('POST', `/_matrix/client/v3/join/${enc(roomId)}`, {});
  await eventually(async () => (await roomBodies()).includes('hello'));
});

afterAll(async () => {
  releaseGate();
  if (!stopped) await bridge?.stop();
  await p?.close();
});

describe('bridge metrics', () => {
  it('puts the session pool on the registry it is given', async () => {
    expect(await sample('bridge_sessions', { bridge_id: 'fakenet', state: 'CONNECTED' })).toBe(1);
    const accounted = registry.getSingleMetric('bridge_session_accounted_bytes')!;
    const { values } = await accounted.get();
    const count = values.find((v) => (v as { metricName?: string }).metricName === 'bridge_session_accounted_bytes_count');
    expect(count).toMatchObject({ labels: { bridge_id: 'fakenet' }, value: 1 });
  });

  it('counts remote events queued on portals, by RemoteEvent type', async () => {
    const messages = await sample('bridge_remote_events_total', { bridge_id: 'fakenet', type: 'message' });
    const reactions = await sample('bridge_remote_events_total', { bridge_id: 'fakenet', type: 'reaction' });
    const id = net.send(bob, dm, 'counted');
    net.react(bob, dm, id, '👍');
    await eventually(
      async () => (await sample('bridge_remote_events_total', { bridge_id: 'fakenet', type: 'reaction' })) === reactions + 1,
    );
    expect(await sample('bridge_remote_events_total', { bridge_id: 'fakenet', type: 'message' })).toBe(messages + 1);
    await bridge.bridge.portals.idle();
  });

  it('counts Matrix events accepted for the network, by event type', async () => {
    const before = await sample('bridge_matrix_events_total', { bridge_id: 'fakenet', type: 'm.room.message' });
    await matrix('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/m1`, { msgtype: 'm.text', body: 'to the network' });
    await eventually(() => net.messages(dm).some((m) => net.textOf(m) === 'to the network'));
    expect(await sample('bridge_matrix_events_total', { bridge_id: 'fakenet', type: 'm.room.message' })).toBe(before + 1);
    // The bridge's own echo (the ghost's messages in the same room) is not counted as outbound.
    expect(await sample('bridge_matrix_events_total', { bridge_id: 'fakenet', type: 'm.reaction' })).toBe(0);
  });

  it('reports portal and outbox queue depths while a portal is blocked, and 0 once it drains', async () => {
    const depth = (queue: string) => sample('bridge_queue_depth', { bridge_id: 'fakenet', queue });
    // The previous test's send may still be finishing (its row is marked sent after the network answered).
    await eventually(async () => (await depth('portal')) === 0 && (await depth('outbox')) === 0);

    const gate = new Promise<void>((r) => (releaseGate = r));
    bridge.bridge.portals.portalFor(dmPortal()).queue.push({ bytes: 64, label: 'test gate', run: () => gate });
    net.send(bob, dm, 'waits 1');
    net.send(bob, dm, 'waits 2');
    await matrix('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/m2`, { msgtype: 'm.text', body: 'waits too' });
    // Two remote messages and the outbox's send wait behind the gate.
    await eventually(async () => (await depth('portal')) === 3 && (await depth('outbox')) === 1);

    releaseGate();
    await eventually(() => net.messages(dm).some((m) => net.textOf(m) === 'waits too'));
    await eventually(async () => (await depth('portal')) === 0 && (await depth('outbox')) === 0);
    expect(await roomBodies()).toEqual(expect.arrayContaining(['waits 1', 'waits 2']));
  });

  it('counts a remote event that finally failed to reach Matrix, by the homeserver errcode', async () => {
    const failures = () => sample('bridge_delivery_failures_total', { bridge_id: 'fakenet', direction: 'to_matrix', code: 'M_TOO_LARGE' });
    expect(await failures()).toBe(0);
    // Larger than the 64 KiB a Matrix event may be: the homeserver refuses it and nothing retries a remote event.
    bridge.bridge.portals.emit(bridge.bridge.portalDeps.logins.get(me as LoginId)!, {
      type: 'message',
      portal: dmPortal(),
      sender: { userId: bob as RemoteUserId },
      id: remoteMessageId('too-large'),
      timestamp: Date.now(),
      content: { kind: 'text', text: { text: 'x'.repeat(70_000) } },
    });
    await bridge.bridge.portals.idle();
    expect(await failures()).toBe(1);
    expect(await sample('bridge_remote_events_total', { bridge_id: 'fakenet', type: 'message' })).toBeGreaterThan(0);
  });

  it('exposes all of it in a form promtool accepts, series and histograms included', async () => {
    const text = await registry.metrics();
    expect(text).toContain('bridge_delivery_failures_total{bridge_id="fakenet",direction="to_matrix",code="M_TOO_LARGE"} 1');
    expect(text).toMatch(/^bridge_session_accounted_bytes_bucket\{le="\+Inf",bridge_id="fakenet"\} 1$/m);
    expect(promtoolCheck(text)).toEqual({ status: 0, output: '' });
  });

  it('stops reporting queue depths for a stopped bridge', async () => {
    stopped = true;
    await bridge.stop();
    const { values } = await registry.getSingleMetric('bridge_queue_depth')!.get();
    expect(values.filter((v) => v.labels.bridge_id === 'fakenet')).toEqual([]);
    expect(await sample('bridge_sessions', { bridge_id: 'fakenet', state: 'CONNECTED' })).toBe(0);
  });
});
