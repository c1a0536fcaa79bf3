/**
 * `npm run bench:events` — persisted events per second and send latency of the homeserver on real
 * Postgres (fsync on), driven over HTTP by many senders into many rooms, next to the raw ceiling:
 * the same number of equivalent rows inserted straight into Postgres with the best batching.
 *
 * The homeserver runs in its own process (`causeway start`) so the load generator does not share
 * its event loop; on a 2-core machine the two processes still share the CPUs, as they would on a
 * small production box with a local load balancer.
 */
import { spawn } from 'node:child_process';
import { randomBytes, createHmac } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { LoadClient, percentile, waitUntilServing } from './http-client.js';
import { commandCpuSeconds, processCpuSeconds } from './cpu-time.js';

const DB_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const SENDERS = Number(process.env.BENCH_SENDERS ?? 64);
const ROOMS = Number(process.env.BENCH_ROOMS ?? 256);
const ROOMS_PER_SENDER = Number(process.env.BENCH_ROOMS_PER_SENDER ?? 16);
const EVENTS = Number(process.env.BENCH_EVENTS ?? 30_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 256);
const FIXED_RATE = Number(process.env.BENCH_FIXED_RATE ?? 1000);
const FIXED_SECONDS = Number(process.env.BENCH_FIXED_SECONDS ?? 10);
const PORT = 18_000 + Math.floor(Math.random() * 1000);
const SECRET = randomBytes(16).toString('hex');
const schema = `bench_${randomBytes(4).toString('hex')}`;

const client = new LoadClient('127.0.0.1', PORT, 128);
const log = (s: string) => process.stdout.write(`${s}\n`);

async function main() {
  const admin = new pg.Client({ connectionString: DB_URL });
  await admin.connect();
  const fsync = (await admin.query("SELECT current_setting('fsync') AS f, current_setting('synchronous_commit') AS s")).rows[0];
  log(`Postgres: fsync=${fsync.f} synchronous_commit=${fsync.s}; schema ${schema}`);

  const serverArgs = process.env.BENCH_SERVER_NODE_ARGS?.split(' ').filter(Boolean) ?? []; // e.g. --cpu-prof
  const server = spawn(process.execPath, [...serverArgs, '--import', 'tsx', 'cli/main.ts', 'start'], {
    cwd: join(import.meta.dirname, '../..'),
    stdio: ['ignore', 'ignore', 'inherit'],
    env: {
      ...process.env,
      CAUSEWAY__DATABASE__ENGINE: 'postgres',
      CAUSEWAY__DATABASE__URL: DB_URL,
      CAUSEWAY__DATABASE__SCHEMA: schema,
      CAUSEWAY__DATABASE__POOL_SIZE: '8',
      CAUSEWAY__LISTEN__PORT: String(PORT),
      CAUSEWAY__REGISTRATION__SHARED_SECRET: SECRET,
      CAUSEWAY__LOG__LEVEL: 'warn',
      CAUSEWAY__LIMITS__RATE_LIMITS: JSON.stringify({
        login: { per_second: 1000, burst: 1000 },
        register: { per_second: 1000, burst: 1000 },
        send: { per_second: 100000, burst: 100000 },
      }),
    },
  });
  try {
    await waitUntilServing(client);
    const { tokens, rooms, membership } = await setUp();

    // 1. Throughput: CONCURRENCY requests in flight until EVENTS are persisted.
    const latencies: number[] = [];
    let next = 0;
    const cpuBefore = { server: processCpuSeconds(server.pid!), postgres: commandCpuSeconds('postgres'), bench: process.cpuUsage() };
    const started = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async (_, worker) => {
        while (next < EVENTS) {
          const i = next++;
          const sender = (worker + i) % SENDERS;
          const roomList = membership[sender]!;
          const room = roomList[i % roomList.length]!;
          const t0 = performance.now();
          const res = await client.request(
            'PUT',
            `/_matrix/client/v3/rooms/${encodeURIComponent(rooms[room]!)}/send/m.room.message/w${worker}-${i}`,
            { msgtype: 'm.text', body: `message ${i} `.padEnd(200, '.') },
            tokens[sender],
          );
          if (res.status !== 200) throw new Error(`send failed: ${res.status} ${JSON.stringify(res.body)}`);
          latencies.push(res.receivedAt - t0);
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const benchCpu = process.cpuUsage(cpuBefore.bench);
    const cpu = {
      server: processCpuSeconds(server.pid!) - cpuBefore.server,
      postgres: commandCpuSeconds('postgres') - cpuBefore.postgres,
      loadGenerator: (benchCpu.user + benchCpu.system) / 1e6,
    };
    latencies.sort((a, b) => a - b);
    const persisted = (await admin.query(`SELECT count(*)::int AS n FROM ${schema}.hs_events WHERE type = 'm.room.message'`)).rows[0].n;

    // 2. Latency at a fixed offered rate (open loop: requests start on schedule, not when others finish).
    const fixed: number[] = [];
    const total = FIXED_RATE * FIXED_SECONDS;
    const t0 = performance.now();
    const inflight: Promise<void>[] = [];
    for (let i = 0; i < total; i++) {
      const due = t0 + (i * 1000) / FIXED_RATE;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      const sender = i % SENDERS;
      const room = membership[sender]![i % ROOMS_PER_SENDER]!;
      const start = performance.now();
      inflight.push(
        client
          .request(
            'PUT',
            `/_matrix/client/v3/rooms/${encodeURIComponent(rooms[room]!)}/send/m.room.message/f${i}`,
            { msgtype: 'm.text', body: `fixed ${i} `.padEnd(200, '.') },
            tokens[sender],
          )
          .then((res) => {
            if (res.status !== 200) throw new Error(`send failed: ${res.status}`);
            fixed.push(res.receivedAt - start);
          }),
      );
    }
    await Promise.all(inflight);
    const achievedRate = total / ((performance.now() - t0) / 1000);
    fixed.sort((a, b) => a - b);

    // 3. The raw ceiling: equivalent rows straight into Postgres, 1,000-row batches on 2 connections.
    const avgJson = (await admin.query(`SELECT avg(length(json))::int AS n FROM ${schema}.hs_events WHERE type = 'm.room.message'`)).rows[0]
      .n;
    const raw = await rawCeiling(avgJson, EVENTS);

    log('');
    log(`bench:events — ${SENDERS} senders, ${ROOMS} rooms, ${EVENTS} events, ${CONCURRENCY} requests in flight`);
    log(
      `  homeserver over HTTP:   ${(EVENTS / seconds).toFixed(0)} persisted events/s (${persisted} rows persisted in ${seconds.toFixed(2)} s)`,
    );
    const perEvent = (s: number) => `${((s / EVENTS) * 1e6).toFixed(0)} us/event`;
    log(
      `  CPU during that run:    server ${perEvent(cpu.server)}, postgres ${perEvent(cpu.postgres)}, load generator ${perEvent(cpu.loadGenerator)} (2 cores shared)`,
    );
    log(`  send latency at max:    p50 ${percentile(latencies, 50).toFixed(2)} ms, p99 ${percentile(latencies, 99).toFixed(2)} ms`);
    log(
      `  send latency @${FIXED_RATE}/s:  p50 ${percentile(fixed, 50).toFixed(2)} ms, p99 ${percentile(fixed, 99).toFixed(2)} ms (achieved ${achievedRate.toFixed(0)}/s)`,
    );
    log(`  raw Postgres ceiling:   ${raw.toFixed(0)} rows/s (${avgJson}-byte rows, 1,000-row multi-row INSERTs, 2 connections)`);
    log(`  homeserver / ceiling:   ${((EVENTS / seconds / raw) * 100).toFixed(1)} %`);
    await admin.query(`DROP SCHEMA ${schema} CASCADE`);
  } finally {
    server.kill('SIGTERM');
    client.close();
    await admin.end();
  }
}

async function setUp() {
  const tokens: string[] = [];
  for (let s = 0; s < SENDERS; s++) {
    const { nonce } = (await client.request('GET', '/_synapse/admin/v1/register', undefined)).body;
    const username = `sender${s}`;
    const password = 'bench password';
    const mac = createHmac('sha1', SECRET).update([nonce, username, password, 'notadmin'].join('\0')).digest('hex');
    const res = await client.request('POST', '/_synapse/admin/v1/register', { nonce, username, password, mac });
    if (res.status !== 200) throw new Error(`register: ${JSON.stringify(res.body)}`);
    tokens.push(res.body.access_token);
  }
  const rooms: string[] = [];
  await Promise.all(
    Array.from({ length: ROOMS }, async (_, r) => {
      const res = await client.request('POST', '/_matrix/client/v3/createRoom', { preset: 'public_chat' }, tokens[r % SENDERS]);
      rooms[r] = res.body.room_id;
    }),
  );
  const membership: number[][] = [];
  const joins: Promise<unknown>[] = [];
  for (let s = 0; s < SENDERS; s++) {
    membership[s] = Array.from({ length: ROOMS_PER_SENDER }, (_, k) => (s * 7 + k * 13) % ROOMS);
    for (const r of membership[s]!)
      joins.push(client.request('POST', `/_matrix/client/v3/rooms/${encodeURIComponent(rooms[r]!)}/join`, {}, tokens[s]));
  }
  await Promise.all(joins);
  return { tokens, rooms, membership };
}

async function rawCeiling(jsonBytes: number, rows: number): Promise<number> {
  const pool = new pg.Pool({ connectionString: DB_URL, max: 2 });
  await pool.query(`CREATE TABLE ${schema}.raw_events (LIKE ${schema}.hs_events INCLUDING ALL)`);
  // Event-shaped JSON of the same size (hs_events' search indexes parse it, as they do real events).
  const envelope = JSON.stringify({ type: 'm.room.message', content: { msgtype: 'm.text', body: '' } });
  const words = 'hello bench world '.repeat(Math.ceil(jsonBytes / 18)).slice(0, Math.max(0, jsonBytes - envelope.length));
  const json = JSON.stringify({ type: 'm.room.message', content: { msgtype: 'm.text', body: words } });
  const batch = 1000;
  const started = performance.now();
  let next = 0;
  await Promise.all(
    [0, 1].map(async () => {
      while (next < rows) {
        const from = next;
        next += batch;
        const n = Math.min(batch, rows - from);
        const ids = Array.from({ length: n }, (_, i) => `$raw${from + i}`);
        await pool.query(
          `INSERT INTO ${schema}.raw_events (event_id, room_id, type, state_key, sender, origin_server_ts, depth, json)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[], $8::text[])`,
          [
            ids,
            ids.map((_, i) => `!room${i % ROOMS}:bench`),
            ids.map(() => 'm.room.message'),
            ids.map(() => null),
            ids.map(() => '@s:bench'),
            ids.map(() => Date.now()),
            ids.map((_, i) => i),
            ids.map(() => json),
          ],
        );
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await pool.end();
  return rows / seconds;
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${err.stack ?? err}\n`);
  process.exit(1);
});
