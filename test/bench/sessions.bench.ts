/**
 * `npm run bench:sessions [N]` (or BENCH_SESSIONS=N) — N fake-network logins (default 5,000) in
 * one SessionPool on the real Postgres (own schema): time to connect all, heap and RSS per idle
 * login, and event throughput. Goal for the core: < 20 KB heap per idle login, all connected in
 * under 60 s.
 *
 * Baselines measured in the same run:
 *   - raw connect rate of the fake network without the pool (same concurrency), and the heap an
 *     open fake connection costs (the fake's own share, subtracted from the pool's figure);
 *   - the heap of an empty, started pool (its fixed cost);
 *   - heap/RSS after seeding the fake network and the database, before the pool starts (forced
 *     GC; run under `node --expose-gc`), against which the per-login delta is taken.
 *
 * Throughput, two figures:
 *   - events the fake network pushes to the N clients, converted by FakenetClient and handed to
 *     LoginContext.emit through the pool's contexts (network -> client -> pool context);
 *   - messages end to end through the portal engine (bridges/core/bridge.ts on a homeserver
 *     platform, inproc appservice): a remote user sends in P DMs (P logins of one Matrix user,
 *     BENCH_PORTALS, default 200), each becomes a Matrix event in its portal room; counted once
 *     the message mapping is stored (after the homeserver accepted the event).
 */
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { CryptoStore, MasterKey, saveLoginSecrets } from '../../bridges/core/crypto-store/index.js';
import type { LoginId } from '../../bridges/core/network/ids.js';
import type { LoginContext, LoginKeyStore } from '../../bridges/core/network/login-context.js';
import type { NetworkConnector } from '../../bridges/core/network/network-connector.js';
import { SessionPool } from '../../bridges/core/session-pool/session-pool.js';
import { BRIDGE_MIGRATIONS } from '../../bridges/core/storage/bridge-migrations.js';
import { UserLoginStore } from '../../bridges/core/storage/user-logins.js';
import { MemoryPubSub } from '../../homeserver/runtime/memory-pubsub.js';
import type { Queryable } from '../../homeserver/storage/db.js';
import { migrate } from '../../homeserver/storage/migrate.js';
import { Bridge } from '../../bridges/core/bridge.js';
import { registryRegistrar } from '../../bridges/core/matrix/registration.js';
import { FakeNetwork, FakenetConnector, makeLoginId, type FakeConnection } from '../fakes/fakenet/index.js';
import { bridgeConfig } from '../helpers/bridge.js';
import { freshSchemaDb } from '../helpers/database.js';
import { buildPlatform, makeUser, SERVER_NAME } from '../helpers/platform.js';

const N = Number(process.argv[2] ?? process.env.BENCH_SESSIONS ?? 5000);
const CONCURRENCY = Number(process.env.BENCH_CONNECT_CONCURRENCY ?? 50);
const JITTER_MS = Number(process.env.BENCH_CONNECT_JITTER_MS ?? 2000);
const ROUNDS = Number(process.env.BENCH_EVENT_ROUNDS ?? 4);
const PORTALS = Math.min(N, Number(process.env.BENCH_PORTALS ?? 200));
const PORTAL_ROUNDS = Number(process.env.BENCH_PORTAL_ROUNDS ?? 5);
const BRIDGE = 'fakenet';

const gc = (globalThis as { gc?: () => void }).gc;
function settle(): { heap: number; rss: number } {
  if (gc) for (let i = 0; i < 3; i++) gc();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, rss: m.rss };
}
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const NO_KEYS: LoginKeyStore = {
  get: async () => undefined,
  getMany: async () => new Map(),
  set: async () => {},
  setMany: async () => {},
  delete: async () => {},
  list: async () => [],
};

/** A connector whose clients hold nothing and connect at once: isolates the pool's own cost. */
function bareConnector(): NetworkConnector {
  const fail = () => Promise.reject(new Error('not used'));
  return {
    networkId: 'bare',
    displayName: 'Bare',
    portalsPerLogin: 'dm-only',
    loginFlows: () => [],
    createLogin: () => {
      throw new Error('not used');
    },
    loadLogin: (ctx) => ({
      connect: async () => ctx.setState({ stateEvent: 'CONNECTED' }),
      disconnect: async () => {},
      isLoggedIn: () => true,
      logoutRemote: async () => {},
      getChatInfo: fail,
      getUserInfo: fail,
      handleMatrixMessage: fail,
    }),
  };
}

/** Waits until every login of the bridge is stored as CONNECTED (the pool's state writes landed). */
async function allPersisted(db: Queryable, bridgeId: string): Promise<void> {
  for (;;) {
    const { rows } = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM bridge_user_logins WHERE bridge_id = $1 AND state = 'CONNECTED'`,
      [bridgeId],
    );
    if (rows[0]!.n === N) return;
    await sleep(50);
  }
}

/** Runs fn over items with at most `limit` in flight. */
async function bounded<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

async function main() {
  if (!gc) console.warn('warning: run with node --expose-gc (npm run bench:sessions does); heap figures include garbage');
  console.log(`bench:sessions  N=${N}  connectConcurrency=${CONCURRENCY}  connectJitterMs=${JITTER_MS}  node ${process.version}`);
  const db = await freshSchemaDb(20);
  await migrate(db, [BRIDGE_MIGRATIONS]);
  const log = pino({ level: 'warn' });
  const pubsub = new MemoryPubSub();
  const net = new FakeNetwork();
  const store = new CryptoStore({ db, bridgeId: BRIDGE, masterKey: new MasterKey(randomBytes(32)) });

  // ---- seed: users, sessions and one DM each on the network; login rows and sealed secrets in Postgres
  const t0 = performance.now();
  const sender = net.addUser({ name: 'Sender' });
  const logins: { id: LoginId; token: string; dm: string }[] = [];
  for (let i = 0; i < N; i++) {
    const u = net.addUser({ name: `User ${i}` });
    logins.push({ id: makeLoginId(u.id), token: net.createSession(u.id), dm: net.dm(sender.id, u.id) });
  }
  await db.query(
    `INSERT INTO bridge_user_logins (bridge_id, login_id, user_mxid, remote_name, state, state_ts, created_ts)
     SELECT $1, id, '@' || id || ':bench.local', id, 'CONNECTING', 0, 0 FROM unnest($2::text[]) AS id`,
    [BRIDGE, logins.map((l) => l.id)],
  );
  await bounded(logins, 16, (l) => saveLoginSecrets(store.forLogin(l.id), { session: new TextEncoder().encode(l.token) }));
  console.log(`seeded ${N} users, sessions, DMs, login rows and sealed secrets in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  // ---- baseline 1: the fake network alone (no pool, no core), same concurrency
  const before = settle();
  const fakeBefore = net.approxBytes();
  const t1 = performance.now();
  const raw: FakeConnection[] = [];
  await bounded(logins, CONCURRENCY, async (l) => void raw.push(await net.connect(l.token, () => {})));
  const rawMs = performance.now() - t1;
  const rawOpen = settle();
  const rawPerConn = (rawOpen.heap - before.heap) / N;
  const fakeConnBytes = (net.approxBytes() - fakeBefore) / N;
  for (const c of raw) c.close();
  raw.length = 0;
  console.log(
    `baseline: raw fake-network connects (no pool): ${N} in ${(rawMs / 1000).toFixed(2)} s = ${Math.round(N / (rawMs / 1000))}/s; ` +
      `an open raw connection: ${kb(rawPerConn)} heap measured, ${kb(fakeConnBytes)} by the fake's own estimate`,
  );

  // ---- baseline 2: an empty pool (fixed cost)
  const emptyBefore = settle();
  const empty = new SessionPool({
    db,
    pubsub,
    log,
    bridgeId: 'empty',
    workerId: 'bench-empty',
    connector: new FakenetConnector(net),
    logins: new UserLoginStore(db, 'empty'),
    contextFor: () => {
      throw new Error('no logins');
    },
  });
  await empty.start();
  const emptyAfter = settle();
  await empty.stop();
  const emptyDelta = emptyAfter.heap - emptyBefore.heap;
  console.log(
    `baseline: empty started pool: ${Math.abs(emptyDelta) < 256 * 1024 ? `~0 (${kb(emptyDelta)}, within GC noise)` : kb(emptyDelta)} heap`,
  );

  // ---- baseline 3: the pool's own structures per login (a client that holds nothing, a bare context)
  await db.query(
    `INSERT INTO bridge_user_logins (bridge_id, login_id, user_mxid, remote_name, state, state_ts, created_ts)
     SELECT 'poolonly', id, '@' || id || ':bench.local', id, 'CONNECTING', 0, 0 FROM unnest($1::text[]) AS id`,
    [logins.map((l) => l.id)],
  );
  const bare = bareConnector();
  const poolOnly = new SessionPool({
    db,
    pubsub,
    log,
    bridgeId: 'poolonly',
    workerId: 'bench-poolonly',
    connector: bare,
    logins: new UserLoginStore(db, 'poolonly'),
    contextFor: (login, parts) => ({
      bridgeId: 'poolonly',
      loginId: login.loginId,
      userMxid: login.userMxid,
      metadata: login.metadata,
      saveMetadata: async () => {},
      emit: () => {},
      keys: NO_KEYS,
      ...parts,
    }),
    connectConcurrency: CONCURRENCY,
    connectJitterMs: 0,
  });
  let bareConnected = 0;
  poolOnly.onStateChange((_id, st) => st.stateEvent === 'CONNECTED' && bareConnected++);
  const poolOnlyBefore = settle();
  const tb = performance.now();
  await poolOnly.start();
  while (bareConnected < N) await sleep(10);
  const bareMs = performance.now() - tb;
  await allPersisted(db, 'poolonly');
  const poolOnlyAfter = settle();
  await poolOnly.stop();
  console.log(
    `baseline: the pool's own structures (bare client and context): ${kb((poolOnlyAfter.heap - poolOnlyBefore.heap) / N)} heap per login; ` +
      `${N} connected in ${(bareMs / 1000).toFixed(2)} s without jitter`,
  );

  // ---- the pool with N logins
  let emitted = 0;
  let connected = 0;
  const metrics = new Registry();
  const pool = new SessionPool({
    db,
    pubsub,
    log,
    bridgeId: BRIDGE,
    workerId: `bench-${process.pid}`,
    connector: new FakenetConnector(net),
    logins: new UserLoginStore(db, BRIDGE),
    contextFor: (login, parts): LoginContext => {
      const keys = store.forLogin(login.loginId, () => ({ token: parts.fencingToken() }));
      parts.memory.register('crypto-store-cache', () => keys.cachedBytes());
      return {
        bridgeId: BRIDGE,
        loginId: login.loginId,
        userMxid: login.userMxid,
        metadata: login.metadata,
        saveMetadata: async () => {},
        // Stands in for the portal engine's queueing: count and drop.
        emit: () => void emitted++,
        keys,
        ...parts,
      };
    },
    connectConcurrency: CONCURRENCY,
    connectJitterMs: JITTER_MS,
    metrics,
  });
  pool.onStateChange((_id, s) => s.stateEvent === 'CONNECTED' && connected++);
  const base = settle();
  const baseFake = net.approxBytes();
  console.log(`baseline: before starting the pool (after seeding): heap ${mb(base.heap)}, RSS ${mb(base.rss)}`);

  const t2 = performance.now();
  await pool.start();
  const leasedMs = performance.now() - t2;
  while (connected < N) {
    if (performance.now() - t2 > 300_000) throw new Error(`only ${connected}/${N} connected after 300 s`);
    await sleep(20);
  }
  const connectMs = performance.now() - t2;
  // Let the state writes land (they are part of the steady state's cost only while queued).
  await allPersisted(db, BRIDGE);
  const writtenMs = performance.now() - t2;
  const idle = settle();
  const perLogin = (idle.heap - base.heap) / N;
  const rssPerLogin = (idle.rss - base.rss) / N;
  const fakeShare = (net.approxBytes() - baseFake) / N;
  console.log(
    `pool: ${N} leases taken in ${(leasedMs / 1000).toFixed(2)} s; all CONNECTED in ${(connectMs / 1000).toFixed(2)} s ` +
      `(${Math.round(N / (connectMs / 1000))}/s, includes up to ${JITTER_MS} ms start-up jitter); states persisted after ${(writtenMs / 1000).toFixed(2)} s`,
  );
  console.log(`idle: heap ${mb(idle.heap)} (+${mb(idle.heap - base.heap)}), RSS ${mb(idle.rss)} (+${mb(idle.rss - base.rss)})`);
  console.log(
    `per idle login: heap ${kb(perLogin)} in total; the fake's share ~${kb(Math.max(rawPerConn, fakeShare))} ` +
      `(open connection, measured above) -> core + client ~${kb(perLogin - Math.max(rawPerConn, fakeShare))}; RSS ${kb(rssPerLogin)}`,
  );
  console.log(
    `  goal < 20 KB heap per idle login: ${perLogin < 20 * 1024 ? 'met' : 'NOT met'}; all connected < 60 s: ${connectMs < 60_000 ? 'met' : 'NOT met'}`,
  );

  // ---- throughput: network pushes -> FakenetClient -> LoginContext.emit, for every login
  const t3 = performance.now();
  for (let r = 0; r < ROUNDS; r++) {
    for (const l of logins) net.send(sender.id, l.dm, `message ${r}`);
    await net.idle();
  }
  const total = ROUNDS * N;
  while (emitted < total && performance.now() - t3 < 60_000) await sleep(5);
  const evMs = performance.now() - t3;
  console.log(
    `throughput (events emitted through the pool's contexts, not through portals): ${emitted}/${total} in ${(evMs / 1000).toFixed(2)} s = ` +
      `${Math.round(emitted / (evMs / 1000))} events/s across ${N} clients`,
  );
  const text = await metrics.metrics();
  const sessions = /bridge_sessions\{bridge_id="fakenet",state="CONNECTED"\} (\d+)/.exec(text)?.[1];
  console.log(`metrics: bridge_sessions{state="CONNECTED"} ${sessions}; fake kicks ${net.kicks()}`);
  console.log('machine: 2 vCPU shared with other engineers and their tests; Postgres on the same host.');

  const t4 = performance.now();
  await pool.stop();
  console.log(`stop: disconnected and released ${N} in ${((performance.now() - t4) / 1000).toFixed(2)} s`);
  await pubsub.close();
  await db.close();
  if (PORTALS > 0) await throughPortals();
}

/**
 * The whole core with the real portal engine (Bridge on a homeserver platform): all N logins run
 * in its pool (heap per idle login with the engine's own contexts), and the first P of them get a
 * DM portal for the end-to-end message throughput.
 */
async function throughPortals() {
  const p = await buildPlatform();
  await p.app.listen({ host: '127.0.0.1', port: 0 });
  const baseUrl = `http://127.0.0.1:${(p.app.server.address() as { port: number }).port}`;
  try {
    await migrate(p.db, [BRIDGE_MIGRATIONS]);
    const user = await makeUser(p, 'bench');
    const net = new FakeNetwork();
    const store = new CryptoStore({ db: p.db, bridgeId: BRIDGE, masterKey: new MasterKey(randomBytes(32)) });
    const sender = net.addUser({ name: 'Sender' });
    const dms: string[] = [];
    const seeded: { id: string; token: string }[] = [];
    for (let i = 0; i < N; i++) {
      const u = net.addUser({ name: `User ${i}` });
      seeded.push({ id: makeLoginId(u.id), token: net.createSession(u.id) });
      if (i < PORTALS) dms.push(net.dm(sender.id, u.id));
    }
    const ids = seeded.map((l) => l.id);
    await bounded(seeded, 16, (l) => saveLoginSecrets(store.forLogin(l.id), { session: new TextEncoder().encode(l.token) }));
    // One registered Matrix user owns the P logins with portals (several logins per user are
    // allowed: one registration); the idle logins belong to users who never get a portal.
    await p.db.query(
      `INSERT INTO bridge_user_logins (bridge_id, login_id, user_mxid, remote_name, state, state_ts, created_ts)
       SELECT $1, id, CASE WHEN n <= $3 THEN $4 ELSE '@idle_' || id || ':${SERVER_NAME}' END, id, 'CONNECTING', 0, 0
         FROM unnest($2::text[]) WITH ORDINALITY AS t(id, n)`,
      [BRIDGE, ids, PORTALS, user.userId],
    );
    const bridge = new Bridge({
      db: p.db,
      runtime: p.runtime,
      log: p.log,
      connector: new FakenetConnector(net),
      config: bridgeConfig(),
      homeserverUrl: baseUrl,
      serverName: SERVER_NAME,
      keys: store,
      registrar: registryRegistrar(p.services.appservices!),
      pool: { connectJitterMs: 0 },
    });
    const before = settle();
    const t1 = performance.now();
    await bridge.start();
    const waitFor = async (what: string, cond: () => Promise<boolean> | boolean) => {
      const deadline = performance.now() + 180_000;
      while (!(await cond())) {
        if (performance.now() > deadline) throw new Error(`timed out waiting for ${what} (${await stored()} messages stored)`);
        await sleep(25);
      }
    };
    const stored = async () =>
      (await p.db.query<{ n: number }>('SELECT count(*)::int AS n FROM bridge_messages WHERE bridge_id = $1', [BRIDGE])).rows[0]!.n;
    await waitFor('logins connected', () => [...bridge.pool.states().values()].filter((s) => s.stateEvent === 'CONNECTED').length === N);
    const connectMs = performance.now() - t1;
    await allPersisted(p.db, BRIDGE);
    await sleep(500); // catch-ups queued by each CONNECTED (no portals yet) drain
    const after = settle();
    console.log(
      `bridge (portal engine + pool + crypto store): ${N} logins CONNECTED ${(connectMs / 1000).toFixed(2)} s after Bridge.start(); ` +
        `heap per idle login ${kb((after.heap - before.heap) / N)} (includes the bridge's fixed start-up cost), RSS ${kb((after.rss - before.rss) / N)}`,
    );
    // Warm-up: the first message of each DM creates its portal room (not measured).
    const tw = performance.now();
    for (const dm of dms) net.send(sender.id, dm, 'hello');
    await waitFor('portals created', async () => (await stored()) >= PORTALS);
    const warmMs = performance.now() - tw;
    const t0 = performance.now();
    for (let r = 0; r < PORTAL_ROUNDS; r++) for (const dm of dms) net.send(sender.id, dm, `message ${r}`);
    const total = PORTALS * PORTAL_ROUNDS;
    await waitFor('messages bridged', async () => (await stored()) >= PORTALS + total);
    const ms = performance.now() - t0;
    console.log(
      `portals: ${PORTALS} DM portal rooms created by their first message in ${(warmMs / 1000).toFixed(1)} s; then ${total} messages ` +
        `network -> portal -> Matrix in ${(ms / 1000).toFixed(2)} s = ${Math.round(total / (ms / 1000))} messages/s end to end ` +
        `(homeserver, bridge and Postgres in this process's host)`,
    );
    await bridge.stop();
  } finally {
    await p.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
