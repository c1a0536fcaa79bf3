import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryPubSub } from '../../../homeserver/runtime/memory-pubsub.js';
import type { PubSub } from '../../../homeserver/runtime/ports.js';
import type { Db, Queryable } from '../../../homeserver/storage/db.js';
import { migrate } from '../../../homeserver/storage/migrate.js';
import type { BridgeState, BridgeStateEvent } from '../../../bridges/core/network/bridge-state.js';
import { loginId, type LoginId } from '../../../bridges/core/network/ids.js';
import type { LoginContext, LoginKeyStore } from '../../../bridges/core/network/login-context.js';
import type { NetworkClient } from '../../../bridges/core/network/network-client.js';
import type { NetworkConnector } from '../../../bridges/core/network/network-connector.js';
import { CryptoStore, LeaseLostError, MasterKey, saveLoginSecrets } from '../../../bridges/core/crypto-store/index.js';
import { backoffDelay } from '../../../bridges/core/backoff.js';
import { LoginLeases } from '../../../bridges/core/session-pool/login-lease.js';
import { Scheduler } from '../../../bridges/core/session-pool/scheduler.js';
import { SessionPool, type SessionPoolOptions } from '../../../bridges/core/session-pool/session-pool.js';
import { bridgeStateTopic, type BridgeStateMessage } from '../../../bridges/core/session-pool/state-writer.js';
import { BRIDGE_MIGRATIONS } from '../../../bridges/core/storage/bridge-migrations.js';
import { UserLoginStore } from '../../../bridges/core/storage/user-logins.js';

import { freshSchemaDb } from '../../helpers/database.js';
import { FakeNetwork, FakenetConnector, makeLoginId } from '../../fakes/fakenet/index.js';

/**
 * A tiny in-process network standing in for a real one. It enforces what real networks punish:
 * a second live connection of the same login kicks the first (Telegram AUTH_KEY_DUPLICATED,
 * WhatsApp StreamReplaced); we count those kicks, and every test expects none.
 */
type Outcome = 'ok' | 'transient' | 'bad' | 'throw';

class TestNetwork {
  readonly live = new Map<string, TestClient>();
  kicks = 0;
  active = 0;
  maxActive = 0;
  readonly attempts = new Map<string, number>();
  /** Scripted outcomes per login, consumed one per connect; 'ok' once empty. */
  readonly script = new Map<string, Outcome[]>();
  /** When set, connects wait on it (to observe how many run at once). */
  hold: Promise<void> | undefined;

  connector(): NetworkConnector {
    return {
      networkId: 'testnet',
      displayName: 'Test network',
      portalsPerLogin: 'dm-only',
      loginFlows: () => [],
      createLogin: () => {
        throw new Error('not used');
      },
      loadLogin: (ctx) => new TestClient(this, ctx),
    };
  }
}

class TestClient implements NetworkClient {
  private connected = false;
  constructor(
    private readonly net: TestNetwork,
    readonly ctx: LoginContext,
  ) {}

  async connect(signal: AbortSignal): Promise<void> {
    const id = this.ctx.loginId;
    const net = this.net;
    net.attempts.set(id, (net.attempts.get(id) ?? 0) + 1);
    net.active++;
    net.maxActive = Math.max(net.maxActive, net.active);
    try {
      await (net.hold ?? Promise.resolve());
      await new Promise((r) => setImmediate(r));
      if (signal.aborted) return;
      const outcome = net.script.get(id)?.shift() ?? 'ok';
      if (outcome === 'throw') throw new Error('boom');
      if (outcome === 'transient') return this.ctx.setState({ stateEvent: 'TRANSIENT_DISCONNECT', error: 'test-net-down' });
      if (outcome === 'bad') return this.ctx.setState({ stateEvent: 'BAD_CREDENTIALS', error: 'test-bad-key' });
      const other = net.live.get(id);
      if (other && other !== this) {
        net.kicks++;
        other.kicked();
      }
      net.live.set(id, this);
      this.connected = true;
      this.ctx.setState({ stateEvent: 'CONNECTED' });
    } finally {
      net.active--;
    }
  }

  /** The network dropped us (as a real one does for the older of two sessions). */
  kicked() {
    this.connected = false;
    this.ctx.setState({ stateEvent: 'BAD_CREDENTIALS', error: 'duplicate-session' });
  }

  /** Simulates the network connection dropping. */
  drop() {
    this.connected = false;
    if (this.net.live.get(this.ctx.loginId) === this) this.net.live.delete(this.ctx.loginId);
    this.ctx.setState({ stateEvent: 'TRANSIENT_DISCONNECT', error: 'test-conn-reset' });
  }

  async disconnect(): Promise<void> {
    this.connected = false;
    if (this.net.live.get(this.ctx.loginId) === this) this.net.live.delete(this.ctx.loginId);
  }

  isLoggedIn() {
    return this.connected;
  }

  async logoutRemote(): Promise<void> {
    await this.disconnect();
  }

  getChatInfo(): never {
    throw new Error('not used');
  }
  getUserInfo(): never {
    throw new Error('not used');
  }
  handleMatrixMessage(): never {
    throw new Error('not used');
  }
}

const noKeys: LoginKeyStore = {
  get: async () => undefined,
  getMany: async () => new Map(),
  set: async () => {},
  setMany: async () => {},
  delete: async () => {},
  list: async () => [],
};

/** A store that counts state writes per login and state (to prove coalescing). */
class CountingLogins extends UserLoginStore {
  readonly writes = new Map<string, number>();
  override async setState(id: LoginId, state: BridgeState, q?: Queryable): Promise<void> {
    const k = `${id}/${state.stateEvent}`;
    this.writes.set(k, (this.writes.get(k) ?? 0) + 1);
    return super.setState(id, state, q);
  }
}

/** A connection to Postgres and pub/sub that can be cut, to play a worker that died or was partitioned. */
function cuttable(db: Db, pubsub: PubSub) {
  let cut = false;
  return {
    db: {
      ...db,
      query: (sql: string, params?: unknown[]) => (cut ? Promise.reject(new Error('connection lost')) : db.query(sql, params)),
      withTransaction: (fn) => (cut ? Promise.reject(new Error('connection lost')) : db.withTransaction(fn)),
    } as Db,
    pubsub: {
      publish: async (topic: string, m: unknown) => (cut ? undefined : pubsub.publish(topic, m)),
      subscribe: (topic: string, l: (m: unknown) => void) => pubsub.subscribe(topic, (m) => (cut ? undefined : l(m))),
      close: async () => {},
    } as PubSub,
    cut() {
      cut = true;
    },
  };
}

/** Polls until cond() holds; fails with `what` instead of hanging until the test timeout. */
async function waitUntil(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

let db: Db & { schema: string };
const log = pino({ level: 'silent' });
let bridgeSeq = 0;

beforeAll(async () => {
  db = await freshSchemaDb(20);
  await migrate(db, [BRIDGE_MIGRATIONS]);
});
afterAll(async () => {
  await db?.close();
});

/** A fresh bridge id per test, so tests share the schema without seeing each other's logins. */
async function seed(n: number): Promise<{ bridgeId: string; ids: LoginId[] }> {
  const bridgeId = `test${++bridgeSeq}`;
  const store = new UserLoginStore(db, bridgeId);
  const ids: LoginId[] = [];
  for (let i = 0; i < n; i++) {
    const id = loginId(`l${String(i).padStart(4, '0')}`);
    await store.upsert({ loginId: id, userMxid: `@u${i}:test.local`, remoteName: `User ${i}`, metadata: {} });
    ids.push(id);
  }
  return { bridgeId, ids };
}

function makePool(
  net: TestNetwork,
  bridgeId: string,
  workerId: string,
  extra: Partial<SessionPoolOptions> & { pubsub: PubSub } & Partial<{ logins: UserLoginStore }>,
) {
  const q = extra.db ?? db;
  return new SessionPool({
    db: q,
    log,
    bridgeId,
    workerId,
    connector: net.connector(),
    logins: extra.logins ?? new UserLoginStore(q, bridgeId),
    contextFor: (login, parts) => ({
      bridgeId,
      loginId: login.loginId,
      userMxid: login.userMxid,
      metadata: login.metadata,
      saveMetadata: async () => {},
      emit: () => {},
      keys: noKeys,
      ...parts,
    }),
    connectJitterMs: 0,
    backoff: { initialMs: 5, maxMs: 40, factor: 2, jitter: 1 },
    ...extra,
  });
}

const allIn = (pool: SessionPool, state: BridgeStateEvent, n: number) => () =>
  pool.size === n && [...pool.states().values()].every((s) => s.stateEvent === state);

describe('SessionPool', () => {
  it('connects at most connectConcurrency logins at once', async () => {
    const { bridgeId } = await seed(40);
    const net = new TestNetwork();
    let release!: () => void;
    net.hold = new Promise((r) => (release = r));
    const pubsub = new MemoryPubSub();
    const pool = makePool(net, bridgeId, 'w1', { pubsub, connectConcurrency: 5, connectJitterMs: 20 });
    await pool.start();
    await waitUntil(() => net.active === 5, 'five connects in flight');
    // Let everything else that could start do so: more work on the event loop must not exceed the bound.
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(net.active).toBe(5);
    release();
    await waitUntil(allIn(pool, 'CONNECTED', 40), 'all 40 connected');
    expect(net.maxActive).toBe(5);
    expect(net.attempts.size).toBe(40);
    await pool.stop();
    await pubsub.close();
  });

  it('reconnects with backoff after transient failures, and after a dropped connection', async () => {
    const { bridgeId, ids } = await seed(2);
    const net = new TestNetwork();
    net.script.set(ids[0]!, ['transient', 'throw', 'transient']);
    const pubsub = new MemoryPubSub();
    const metrics = new Registry();
    const pool = makePool(net, bridgeId, 'w1', { pubsub, metrics });
    const seen: string[] = [];
    pool.onStateChange((id, s) => id === ids[0] && seen.push(s.stateEvent));
    await pool.start();
    await waitUntil(allIn(pool, 'CONNECTED', 2), 'both connected');
    expect(net.attempts.get(ids[0]!)).toBe(4);
    // The row was stored as CONNECTING, so the first CONNECTING is no change and not reported.
    expect(seen).toEqual([
      'TRANSIENT_DISCONNECT',
      'CONNECTING',
      'UNKNOWN_ERROR',
      'CONNECTING',
      'TRANSIENT_DISCONNECT',
      'CONNECTING',
      'CONNECTED',
    ]);
    // The connection drops later: the pool reconnects on its own.
    const client = pool.client(ids[1]!) as TestClient;
    client.drop();
    await waitUntil(() => pool.states().get(ids[1]!)?.stateEvent === 'CONNECTED' && net.attempts.get(ids[1]!) === 2, 'reconnected');
    const text = await metrics.metrics();
    expect(text).toMatch(new RegExp(`bridge_reconnects_total\\{bridge_id="${bridgeId}"\\} 4`));
    expect(text).toMatch(new RegExp(`bridge_sessions\\{bridge_id="${bridgeId}",state="CONNECTED"\\} 2`));
    expect(text).toMatch(/bridge_connect_duration_seconds_count\{bridge_id="[^"]+"\} 5/);
    expect(text).toMatch(/bridge_worker_heap_bytes\{bridge_id="[^"]+"\} \d+/);
    expect(text).toMatch(/bridge_session_accounted_bytes_count\{bridge_id="[^"]+"\} 2/);
    await pool.stop();
    await pubsub.close();
  });

  it('stops retrying on BAD_CREDENTIALS / LOGGED_OUT and frees the lease after persisting the state', async () => {
    const { bridgeId, ids } = await seed(3);
    const net = new TestNetwork();
    net.script.set(ids[0]!, ['bad']);
    // A login that needs several backoff rounds: once it is connected, a retry of the first
    // login (same backoff settings, same scheduler) would have happened if there were one.
    net.script.set(ids[1]!, ['transient', 'transient', 'transient']);
    const pubsub = new MemoryPubSub();
    const logins = new UserLoginStore(db, bridgeId);
    const pool = makePool(net, bridgeId, 'w1', { pubsub, logins });
    const leases = new LoginLeases(db, bridgeId, 'observer', 1000);
    await pool.start();
    await waitUntil(() => pool.states().get(ids[1]!)?.stateEvent === 'CONNECTED', 'second login connected after retries');
    expect(net.attempts.get(ids[0]!)).toBe(1);
    expect(pool.client(ids[0]!)).toBeUndefined();
    // The lease is freed only once the terminal state is stored (else another worker could retry it).
    await waitUntil(async () => (await leases.current(ids[0]!))?.expired === true, 'lease released');
    expect((await logins.get(ids[0]!))?.state).toMatchObject({ stateEvent: 'BAD_CREDENTIALS', error: 'test-bad-key' });

    // LOGGED_OUT reported by a running client ends that session too.
    const c = pool.client(ids[2]!) as TestClient;
    c.ctx.setState({ stateEvent: 'LOGGED_OUT', message: 'Logged out from another device' });
    await waitUntil(() => pool.client(ids[2]!) === undefined, 'logged-out session ended');
    await waitUntil(() => net.live.get(ids[2]!) === undefined, 'disconnected');
    await waitUntil(async () => (await leases.current(ids[2]!))?.expired === true, 'lease released');
    expect((await logins.get(ids[2]!))?.state.stateEvent).toBe('LOGGED_OUT');
    // And no takeover scan picks a terminal login up again.
    expect(await leases.takeOver(10)).toEqual(new Map());
    expect(net.attempts.get(ids[2]!)).toBe(1);
    await pool.stop();
    await pubsub.close();
  });

  it('persists each state once and publishes it on bridge.state.<bridgeId>', async () => {
    const { bridgeId, ids } = await seed(3);
    const net = new TestNetwork();
    const pubsub = new MemoryPubSub();
    const got: BridgeStateMessage[] = [];
    await pubsub.subscribe(bridgeStateTopic(bridgeId), (m) => got.push(m as BridgeStateMessage));
    const logins = new CountingLogins(db, bridgeId);
    const pool = makePool(net, bridgeId, 'w1', { pubsub, logins });
    await pool.start();
    await waitUntil(() => got.filter((m) => m.state.stateEvent === 'CONNECTED').length === 3, 'three CONNECTED published');
    for (const id of ids) {
      const row = await logins.get(id);
      expect(row?.state.stateEvent).toBe('CONNECTED');
      expect(got.find((m) => m.loginId === id && m.state.stateEvent === 'CONNECTED')?.userMxid).toBe(row?.userMxid);
    }
    // The client repeats itself: nothing is written or published again.
    const c = pool.client(ids[0]!) as TestClient;
    const before = got.length;
    c.ctx.setState({ stateEvent: 'CONNECTED' });
    c.ctx.setState({ stateEvent: 'BACKFILLING' });
    await waitUntil(() => got.length === before + 1, 'BACKFILLING published');
    c.ctx.setState({ stateEvent: 'BACKFILLING' });
    c.ctx.setState({ stateEvent: 'CONNECTED' });
    await waitUntil(() => got.length === before + 2, 'CONNECTED published');
    expect(got.slice(before).map((m) => m.state.stateEvent)).toEqual(['BACKFILLING', 'CONNECTED']);
    expect(logins.writes.get(`${ids[0]}/BACKFILLING`)).toBe(1);
    expect(logins.writes.get(`${ids[0]}/CONNECTED`)).toBe(2); // once at connect, once after BACKFILLING
    expect((await logins.get(ids[0]!))?.state.stateEvent).toBe('CONNECTED');
    await pool.stop();
    await pubsub.close();
  });

  it('splits logins between two workers', async () => {
    const { bridgeId, ids } = await seed(20);
    const net = new TestNetwork();
    const pubsub = new MemoryPubSub();
    const opts = { pubsub, leaseTtlMs: 2000, renewIntervalMs: 200 };
    const a = makePool(net, bridgeId, 'wa', opts);
    await a.start();
    await waitUntil(allIn(a, 'CONNECTED', 20), 'the first worker runs every login');
    const b = makePool(net, bridgeId, 'wb', opts);
    await b.start();
    // The first worker hands half over; the second takes them up.
    await waitUntil(() => a.size === 10 && b.size === 10 && allIn(b, 'CONNECTED', 10)(), 'ten logins each');
    for (const id of ids) expect(Number(a.client(id) !== undefined) + Number(b.client(id) !== undefined)).toBe(1);
    const { rows } = await db.query<{ owner: string; n: number }>(
      `SELECT owner, count(*)::int AS n FROM bridge_login_leases WHERE bridge_id = $1 AND expires_at > now() GROUP BY owner ORDER BY owner`,
      [bridgeId],
    );
    expect(rows).toEqual([
      { owner: 'wa', n: 10 },
      { owner: 'wb', n: 10 },
    ]);
    expect(net.kicks).toBe(0);
    // A logout handled by one worker reaches the worker that runs the login (pub/sub).
    const onB = ids.find((id) => b.client(id) !== undefined)!;
    await a.remove(onB, { logoutRemote: false });
    await waitUntil(() => b.client(onB) === undefined && !net.live.has(onB), 'removed on the other worker');
    await db.query('DELETE FROM bridge_user_logins WHERE bridge_id = $1 AND login_id = $2', [bridgeId, onB]);
    // A graceful stop releases at once: the other worker takes everything.
    await a.stop();
    await waitUntil(allIn(b, 'CONNECTED', 19), 'the second worker runs every login');
    expect(net.kicks).toBe(0);
    await b.stop();
    await pubsub.close();
  });

  it('takes over the logins of a worker that died, never running a login twice, and fences the stale worker', async () => {
    const { bridgeId, ids } = await seed(12);
    const net = new TestNetwork();
    const pubsub = new MemoryPubSub();
    const opts = { leaseTtlMs: 2000, renewIntervalMs: 200 };
    const dying = cuttable(db, pubsub);
    const aMetrics = new Registry();
    const bMetrics = new Registry();
    const a = makePool(net, bridgeId, 'wa', { ...opts, db: dying.db, pubsub: dying.pubsub, metrics: aMetrics });
    await a.start();
    await waitUntil(allIn(a, 'CONNECTED', 12), 'the first worker runs every login');
    const b = makePool(net, bridgeId, 'wb', { ...opts, pubsub, metrics: bMetrics });
    await b.start();
    await waitUntil(() => a.size === 6 && allIn(b, 'CONNECTED', 6)(), 'split');

    const victim = ids.find((id) => a.client(id) !== undefined)!;
    const victimClient = a.client(victim) as TestClient;
    const staleToken = a.fencingToken(victim)!;
    expect(victimClient.ctx.signal.aborted).toBe(false);

    // The first worker loses Postgres and pub/sub: it can neither renew nor announce itself.
    dying.cut();
    await waitUntil(allIn(b, 'CONNECTED', 12), 'the survivor runs every login', 15_000);
    expect(a.size).toBe(0);
    expect(victimClient.ctx.signal.aborted).toBe(true);
    expect(net.kicks).toBe(0);
    expect(net.live.size).toBe(12);
    for (const id of ids) expect(net.live.get(id)?.ctx.userMxid).toBe((b.client(id) as TestClient).ctx.userMxid);

    // The stale token is dead: the new holder's is higher and the old one renews nothing.
    const fresh = b.fencingToken(victim)!;
    expect(fresh).toBeGreaterThan(staleToken);
    expect(victimClient.ctx.memory).toBeDefined();
    const staleLeases = new LoginLeases(db, bridgeId, 'wa', 2000);
    expect(await staleLeases.renew(victim, staleToken)).toBe(false);
    expect(await staleLeases.reacquire(victim, staleToken)).toBeUndefined();
    expect(await new LoginLeases(db, bridgeId, 'wb', 2000).current(victim)).toMatchObject({ owner: 'wb', token: fresh, expired: false });

    // Six handed over when it joined, six taken from the dead worker.
    expect(await bMetrics.metrics()).toMatch(/bridge_lease_takeovers_total\{bridge_id="[^"]+"\} 12/);
    expect(await aMetrics.metrics()).toMatch(/bridge_lease_losses_total\{bridge_id="[^"]+"\} 6/);
    await a.stop();
    await b.stop();
    await pubsub.close();
  });

  it('a lease whose renewal is refused (taken elsewhere) aborts the login and disconnects it at once', async () => {
    const { bridgeId, ids } = await seed(3);
    const net = new TestNetwork();
    const pubsub = new MemoryPubSub();
    const metrics = new Registry();
    const pool = makePool(net, bridgeId, 'w1', { pubsub, metrics, leaseTtlMs: 3000, renewIntervalMs: 100 });
    await pool.start();
    await waitUntil(allIn(pool, 'CONNECTED', 3), 'connected');
    const victim = pool.client(ids[1]!) as TestClient;
    // Another worker got the lease (as after a long pause of this process): same row, new owner and token.
    await db.query(`UPDATE bridge_login_leases SET owner = 'thief', token = token + 1 WHERE bridge_id = $1 AND login_id = $2`, [
      bridgeId,
      ids[1],
    ]);
    await waitUntil(() => victim.ctx.signal.aborted, 'signal aborted');
    await waitUntil(() => !net.live.has(ids[1]!), 'disconnected');
    expect(pool.client(ids[1]!)).toBeUndefined();
    expect(pool.size).toBe(2);
    expect(await metrics.metrics()).toMatch(/bridge_lease_losses_total\{bridge_id="[^"]+"\} 1/);
    await pool.stop();
    // stop() released only its own leases: the thief's is untouched.
    expect(await new LoginLeases(db, bridgeId, 'x', 1).current(ids[1]!)).toMatchObject({ owner: 'thief', expired: false });
    await pubsub.close();
  });

  it('add() takes a new login here, remove() logs it out and frees it', async () => {
    const { bridgeId } = await seed(1);
    const net = new TestNetwork();
    const pubsub = new MemoryPubSub();
    const logins = new UserLoginStore(db, bridgeId);
    const pool = makePool(net, bridgeId, 'w1', { pubsub, logins });
    await pool.start();
    await waitUntil(allIn(pool, 'CONNECTED', 1), 'seeded login connected');
    const id = loginId('new-login');
    await logins.upsert({ loginId: id, userMxid: '@new:test.local', remoteName: 'New', metadata: { v: 1 } });
    expect(await pool.add(id)).toBe(true);
    await waitUntil(() => pool.states().get(id)?.stateEvent === 'CONNECTED', 'new login connected');
    const first = pool.fencingToken(id)!;
    // Logging in again with the same account restarts it with the new record and a new token.
    await logins.upsert({ loginId: id, userMxid: '@new:test.local', remoteName: 'New', metadata: { v: 2 } });
    expect(await pool.add(id)).toBe(true);
    await waitUntil(() => pool.states().get(id)?.stateEvent === 'CONNECTED', 'restarted');
    expect(pool.fencingToken(id)).toBe(first + 1);
    expect((pool.client(id) as TestClient).ctx.metadata).toEqual({ v: 2 });
    expect(net.kicks).toBe(0);
    await pool.remove(id, { logoutRemote: true });
    expect(pool.client(id)).toBeUndefined();
    expect(net.live.has(id)).toBe(false);
    // The lease is left to expire (the caller deletes the row meanwhile), not released.
    const left = await new LoginLeases(db, bridgeId, 'x', 1).current(id);
    expect(left).toMatchObject({ owner: 'w1', expired: false });
    // Logging in again right away works on this worker (its own lease, a new token).
    expect(await pool.add(id)).toBe(true);
    await waitUntil(() => pool.states().get(id)?.stateEvent === 'CONNECTED', 'back after a new login');
    expect(pool.fencingToken(id)).toBe(left!.token + 1);
    await pool.stop();
    await pubsub.close();
  });

  it('sums what a session registers on its MemoryMeter', async () => {
    const { bridgeId, ids } = await seed(1);
    const net = new TestNetwork();
    const pubsub = new MemoryPubSub();
    const metrics = new Registry();
    const pool = makePool(net, bridgeId, 'w1', { pubsub, metrics });
    await pool.start();
    await waitUntil(allIn(pool, 'CONNECTED', 1), 'connected');
    const ctx = (pool.client(ids[0]!) as TestClient).ctx;
    let cache = 3000;
    const unregister = ctx.memory.register('message-cache', () => cache);
    ctx.memory.register('buffer', () => 2000);
    expect(pool.accountedBytes(ids[0]!)).toBe(5000);
    cache = 10_000;
    expect(pool.accountedBytes(ids[0]!)).toBe(12_000);
    expect(await metrics.metrics()).toMatch(/bridge_session_accounted_bytes_bucket\{le="16384",bridge_id="[^"]+"\} 1/);
    unregister();
    expect(pool.accountedBytes(ids[0]!)).toBe(2000);
    await pool.stop();
    await pubsub.close();
  });

  it("fakenet: a takeover never kicks a session, and the dead worker's fenced key writes are refused", async () => {
    const bridgeId = `fakenet${++bridgeSeq}`;
    const net = new FakeNetwork();
    const store = new CryptoStore({ db, bridgeId, masterKey: new MasterKey(randomBytes(32)) });
    const logins = new UserLoginStore(db, bridgeId);
    const ids: LoginId[] = [];
    for (let i = 0; i < 10; i++) {
      const user = net.addUser({ name: `User ${i}` });
      const id = makeLoginId(user.id);
      await logins.upsert({ loginId: id, userMxid: `@f${i}:test.local`, remoteName: user.name, metadata: {} });
      await saveLoginSecrets(store.forLogin(id), { session: new TextEncoder().encode(net.createSession(user.id)) });
      ids.push(id);
    }
    const contexts = new Map<string, LoginContext>();
    const pubsub = new MemoryPubSub();
    const dying = cuttable(db, pubsub);
    const make = (workerId: string, q: Db, ps: PubSub) =>
      new SessionPool({
        db: q,
        pubsub: ps,
        log,
        bridgeId,
        workerId,
        connector: new FakenetConnector(net),
        logins: new UserLoginStore(q, bridgeId),
        contextFor: (login, parts) => {
          const keys = store.forLogin(login.loginId, () => ({ token: parts.fencingToken() }));
          parts.memory.register('crypto-store-cache', () => keys.cachedBytes());
          const ctx: LoginContext = {
            bridgeId,
            loginId: login.loginId,
            userMxid: login.userMxid,
            metadata: login.metadata,
            saveMetadata: async () => {},
            emit: () => {},
            keys,
            ...parts,
          };
          contexts.set(`${workerId}/${login.loginId}`, ctx);
          return ctx;
        },
        leaseTtlMs: 2000,
        renewIntervalMs: 200,
        connectJitterMs: 10,
        backoff: { initialMs: 5, maxMs: 40 },
      });
    const a = make('wa', dying.db, dying.pubsub);
    await a.start();
    await waitUntil(allIn(a, 'CONNECTED', 10), 'the first worker runs every login');
    const b = make('wb', db, pubsub);
    await b.start();
    await waitUntil(() => a.size === 5 && allIn(b, 'CONNECTED', 5)(), 'split');
    const victim = ids.find((id) => a.client(id) !== undefined)!;
    const staleKeys = contexts.get(`wa/${victim}`)!.keys;
    await staleKeys.set('test', 'written-while-holding', new Uint8Array([1])); // allowed: the lease is held

    dying.cut();
    await waitUntil(allIn(b, 'CONNECTED', 10), 'the survivor runs every login', 15_000);
    expect(net.kicks()).toBe(0);
    expect(net.connectionCount()).toBe(10);
    expect(a.size).toBe(0);
    // The dead worker wakes up and writes under its old token: refused, nothing written.
    await expect(staleKeys.set('test', 'written-after-takeover', new Uint8Array([2]))).rejects.toBeInstanceOf(LeaseLostError);
    expect(await store.forLogin(victim).get('test', 'written-after-takeover')).toBeUndefined();
    // The new holder writes fine.
    await contexts.get(`wb/${victim}`)!.keys.set('test', 'written-by-new-holder', new Uint8Array([3]));

    // A login completed on the survivor: its secrets are stored under the new lease's token
    // (prepare), before the client connects and reads them.
    const newcomer = net.addUser({ name: 'Newcomer' });
    const newId = makeLoginId(newcomer.id);
    await logins.upsert({ loginId: newId, userMxid: '@newcomer:test.local', remoteName: newcomer.name, metadata: {} });
    const session = new TextEncoder().encode(net.createSession(newcomer.id));
    await expect(
      saveLoginSecrets(
        store.forLogin(newId, () => ({ token: 0 })),
        { session },
      ),
    ).rejects.toBeInstanceOf(LeaseLostError);
    expect(await b.add(newId, { prepare: (token) => saveLoginSecrets(store.forLogin(newId, { token }), { session }) })).toBe(true);
    await waitUntil(() => b.states().get(newId)?.stateEvent === 'CONNECTED', 'newcomer connected');
    await a.stop();
    await b.stop();
    expect(net.connectionCount()).toBe(0);
    expect(net.kicks()).toBe(0);
    await pubsub.close();
  });
});

describe('pool building blocks', () => {
  it('a lease names its holder’s worker token while unexpired, and every acquisition rewrites it', async () => {
    const { bridgeId, ids } = await seed(2);
    const [one, two] = ids as [LoginId, LoginId];
    const w1 = new LoginLeases(db, bridgeId, 'w1', 60_000, 'token-of-w1');
    const w2 = new LoginLeases(db, bridgeId, 'w2', 60_000, 'token-of-w2');
    const tokenless = new LoginLeases(db, bridgeId, 'old', 60_000);
    expect(await w2.holderWorkerToken(one)).toBeUndefined(); // no lease yet
    const held = await w1.acquire(one);
    expect(await w2.holderWorkerToken(one)).toBe('token-of-w1');
    await w1.release(one, held!);
    expect(await w2.holderWorkerToken(one)).toBeUndefined(); // expired
    // The takeover scan writes the taker's token, and a holder without one stores none.
    expect([...(await w2.takeOver(10)).keys()].sort()).toEqual([one, two]);
    expect(await w1.holderWorkerToken(two)).toBe('token-of-w2');
    await w2.releaseAll([{ loginId: one, token: (await w2.current(one))!.token }]);
    await tokenless.acquire(one);
    expect(await w1.holderWorkerToken(one)).toBeUndefined();
  });

  it('Scheduler fires keys in deadline order, replaces and cancels, on one timer', async () => {
    const fired: string[] = [];
    const sched = new Scheduler<string>((k) => fired.push(k));
    const now = Date.now();
    sched.schedule('c', now + 30);
    sched.schedule('a', now + 10);
    sched.schedule('b', now + 20);
    sched.schedule('x', now + 5);
    sched.schedule('x', now + 40); // replaced: fires once, last
    sched.schedule('gone', now + 15);
    sched.cancel('gone');
    await waitUntil(() => fired.length === 4, 'four keys fired');
    expect(fired).toEqual(['a', 'b', 'c', 'x']);
    expect(sched.size).toBe(0);
    sched.stop();
  });

  it('backoff grows by the factor up to the cap, with full jitter below it', () => {
    const opts = { initialMs: 100, maxMs: 1000, factor: 2, jitter: 1 };
    expect([0, 1, 2, 3, 4, 10].map((a) => backoffDelay({ ...opts, jitter: 0 }, a))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(backoffDelay(opts, 3, () => 0)).toBe(800);
    expect(backoffDelay(opts, 3, () => 0.999)).toBe(1);
    expect(backoffDelay({ ...opts, jitter: 0.5 }, 1, () => 1)).toBe(100);
  });
});
