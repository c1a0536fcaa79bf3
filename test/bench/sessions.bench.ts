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
 * Throughput: events the fake network pushes to the N clients, converted by FakenetClient and
 * handed to LoginContext.emit through the pool's contexts (the portal engine is not wired in
 * here, so this is the network -> client -> context path, not messages through portals).
 */
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { CryptoStore, MasterKey, saveLoginSecrets } from '../../bridges/core/crypto-store/index.js';
import type { LoginId } from '../../bridges/core/network/ids.js';
import type { LoginContext } from '../../bridges/core/network/login-context.js';
import { SessionPool } from '../../bridges/core/session-pool/session-pool.js';
import { BRIDGE_MIGRATIONS } from '../../bridges/core/storage/bridge-migrations.js';
import { UserLoginStore } from '../../bridges/core/storage/user-logins.js';
import { MemoryPubSub } from '../../homeserver/runtime/memory-pubsub.js';
import { migrate } from '../../homeserver/storage/migrate.js';
import { FakeNetwork, FakenetConnector, makeLoginId, type FakeConnection } from '../fakes/fakenet/index.js';
import { freshSchemaDb } from '../helpers/database.js';

const N = Number(process.argv[2] ?? process.env.BENCH_SESSIONS ?? 5000);
const CONCURRENCY = Number(process.env.BENCH_CONNECT_CONCURRENCY ?? 50);
const JITTER_MS = Number(process.env.BENCH_CONNECT_JITTER_MS ?? 2000);
const ROUNDS = Number(process.env.BENCH_EVENT_ROUNDS ?? 4);
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
  console.log(`baseline: empty started pool: ${kb(emptyAfter.heap - emptyBefore.heap)} heap`);

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
  for (;;) {
    const { rows } = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM bridge_user_logins WHERE bridge_id = $1 AND state = 'CONNECTED'`,
      [BRIDGE],
    );
    if (rows[0]!.n === N) break;
    await sleep(50);
  }
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
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
