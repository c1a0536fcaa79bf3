/**
 * `npm run bench:sync` — send-to-sync delivery latency with 1,000 open long-polls, next to a bare
 * HTTP round trip on the same machine (the floor), and the time of an initial sync for a user in
 * 100 rooms on a server holding 100,000 rooms.
 *
 * Set-up shortcuts (documented, not measured): the 1,000 syncing users and their access tokens are
 * inserted straight into Postgres (scrypt-hashing 1,000 passwords would take minutes), and the
 * 99,900 background rooms are synthetic rows (a create event and a member event each, unsigned)
 * so the tables and indexes have the size of a 100,000-room server. Everything measured goes
 * through the HTTP API of a separate server process.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { availableParallelism, loadavg } from 'node:os';
import { LoadClient, percentile, waitUntilServing } from './http-client.js';
import { processCpuSeconds } from './cpu-time.js';

const DB_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 1000);
const ROOMS = Number(process.env.BENCH_ROOMS ?? 100);
/**
 * Each message wakes CLIENTS / ROOMS syncs at once, so their deliveries share its fate: with 200
 * messages the p99 of 2,000 deliveries was set by the two slowest sends (one slow commit moved it
 * by 2-4 ms from run to run). 600 messages make p99 a property of the server, not of two samples.
 */
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 600);
const RATE = Number(process.env.BENCH_RATE ?? 20);
/** Messages sent (same rate, same rooms) before measuring, so the figures are those of a warm server (JIT, caches), as in production. */
const WARMUP = Number(process.env.BENCH_WARMUP ?? 50);
const BACKGROUND_ROOMS = Number(process.env.BENCH_BACKGROUND_ROOMS ?? 99_900);
const PORT = 17_000 + Math.floor(Math.random() * 1000);
const SERVER = 'bench.local';
const schema = `benchsync_${randomBytes(4).toString('hex')}`;
const client = new LoadClient('127.0.0.1', PORT, CLIENTS + 50);
const log = (s: string) => process.stdout.write(`${s}\n`);

async function main() {
  const admin = new pg.Client({ connectionString: DB_URL });
  await admin.connect();
  // BENCH_CPU_PROF=<dir>: the server writes a V8 CPU profile there when it stops.
  const profile = process.env.BENCH_CPU_PROF
    ? ['--cpu-prof', '--cpu-prof-interval', process.env.BENCH_CPU_PROF_INTERVAL ?? '1000', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`]
    : [];
  const server = spawn(process.execPath, [...profile, '--import', 'tsx', 'cli/main.ts', 'start'], {
    cwd: join(import.meta.dirname, '../..'),
    stdio: ['ignore', 'ignore', 'inherit'],
    env: {
      ...process.env,
      CAUSEWAY__SERVER_NAME: SERVER,
      CAUSEWAY__DATABASE__ENGINE: 'postgres',
      CAUSEWAY__DATABASE__URL: DB_URL,
      CAUSEWAY__DATABASE__SCHEMA: schema,
      CAUSEWAY__DATABASE__POOL_SIZE: '16',
      CAUSEWAY__LISTEN__PORT: String(PORT),
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
    const tokens = await insertUsers(admin, CLIENTS + 1);
    const owner = tokens[CLIENTS]!; // creates the rooms and sends the messages
    const rooms: string[] = [];
    for (let r = 0; r < ROOMS; r++)
      rooms.push((await client.request('POST', '/_matrix/client/v3/createRoom', { preset: 'public_chat' }, owner)).body.room_id);
    await Promise.all(
      tokens
        .slice(0, CLIENTS)
        .map((t, i) => client.request('POST', `/_matrix/client/v3/rooms/${encodeURIComponent(rooms[i % ROOMS]!)}/join`, {}, t)),
    );

    // Floor: a bare HTTP round trip to the same server.
    const floor: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const t0 = performance.now();
      const res = await client.request('GET', '/_matrix/client/versions', undefined);
      floor.push(res.receivedAt - t0);
    }
    floor.sort((a, b) => a - b);

    // 1,000 clients each hold a long-poll; a sender posts messages; latency = send start -> sync returned it.
    const sentAt = new Map<string, number>();
    const sendDone = new Map<string, number>();
    const deliveries: number[] = [];
    const afterSend: { tag: string; at: number }[] = [];
    let running = true;
    let parked = 0;
    const filter = encodeURIComponent(JSON.stringify({ room: { timeline: { limit: 50 } } }));
    const loops = tokens.slice(0, CLIENTS).map(async (token) => {
      let since = (await client.request('GET', `/_matrix/client/v3/sync?filter=${filter}&timeout=0`, undefined, token)).body.next_batch;
      parked++;
      while (running) {
        const res = await client.request('GET', `/_matrix/client/v3/sync?filter=${filter}&timeout=30000&since=${since}`, undefined, token);
        const now = res.receivedAt;
        since = res.body.next_batch;
        for (const room of Object.values(res.body.rooms?.join ?? {}) as { timeline: { events: { content: { tag?: string } }[] } }[]) {
          for (const e of room.timeline.events) {
            const t = e.content.tag && sentAt.get(e.content.tag);
            if (t) {
              deliveries.push(now - t);
              afterSend.push({ tag: e.content.tag!, at: now });
            }
          }
        }
      }
    });
    while (parked < CLIENTS) await new Promise((r) => setTimeout(r, 50));
    // Warm-up: not measured (its tags are not in sentAt, so the loops ignore its deliveries).
    for (let i = 0; i < WARMUP; i++) {
      await client.request(
        'PUT',
        `/_matrix/client/v3/rooms/${encodeURIComponent(rooms[i % ROOMS]!)}/send/m.room.message/w${i}`,
        { msgtype: 'm.text', body: 'warm-up', tag: `w${i}` },
        owner,
      );
      await new Promise((r) => setTimeout(r, 1000 / RATE));
    }
    await new Promise((r) => setTimeout(r, 1000)); // every client is now parked in a long-poll
    // CPU used during the measured phase by the server and by this load generator (same 2 cores).
    const load = loadavg()[0]!;
    const serverCpu0 = processCpuSeconds(server.pid!);
    const selfCpu0 = process.cpuUsage();
    const phase0 = performance.now();
    const sends: number[] = [];
    for (let i = 0; i < MESSAGES; i++) {
      const tag = `m${i}`;
      const t0 = performance.now();
      sentAt.set(tag, t0);
      const sent = await client.request(
        'PUT',
        `/_matrix/client/v3/rooms/${encodeURIComponent(rooms[i % ROOMS]!)}/send/m.room.message/b${i}`,
        { msgtype: 'm.text', body: 'hello', tag },
        owner,
      );
      sendDone.set(tag, sent.receivedAt);
      sends.push(sent.receivedAt - t0);
      await new Promise((r) => setTimeout(r, 1000 / RATE));
    }
    await new Promise((r) => setTimeout(r, 1000));
    const phaseSeconds = (performance.now() - phase0) / 1000;
    const serverCpu = processCpuSeconds(server.pid!) - serverCpu0;
    const selfCpuUs = process.cpuUsage(selfCpu0);
    const selfCpu = (selfCpuUs.user + selfCpuUs.system) / 1e6;
    running = false;
    // Wake the remaining long-polls so the loops end.
    await Promise.all(
      rooms.map((room, i) =>
        client.request(
          'PUT',
          `/_matrix/client/v3/rooms/${encodeURIComponent(room)}/send/m.room.message/end${i}`,
          { msgtype: 'm.text', body: 'end' },
          owner,
        ),
      ),
    );
    await Promise.all(loops);
    deliveries.sort((a, b) => a - b);
    sends.sort((a, b) => a - b);
    // The sync side alone: from the send's response to the sync's (negative when the sync answered first).
    const syncSide = afterSend.map((d) => d.at - sendDone.get(d.tag)!).sort((a, b) => a - b);
    const expected = MESSAGES * (CLIENTS / ROOMS);

    // Initial sync of a user in 100 rooms on a server holding ~100,000 rooms.
    await insertBackgroundRooms(admin, BACKGROUND_ROOMS);
    const heavy = tokens[0]!;
    await Promise.all(rooms.map((room) => client.request('POST', `/_matrix/client/v3/rooms/${encodeURIComponent(room)}/join`, {}, heavy)));
    const totalRooms = (await admin.query(`SELECT count(*)::int AS n FROM ${schema}.hs_rooms`)).rows[0].n;
    const initial: number[] = [];
    for (let i = 0; i < 7; i++) {
      const t0 = performance.now();
      const res = await client.request('GET', '/_matrix/client/v3/sync', undefined, heavy);
      initial.push(performance.now() - t0);
      if (Object.keys(res.body.rooms.join).length < ROOMS) throw new Error('initial sync is missing rooms');
    }
    const inOrder = initial.map((ms) => ms.toFixed(0)).join(', ');
    initial.sort((a, b) => a - b);

    // One long-poll alone: a user in one room (tokens[1]) against the user now in 100 rooms, the
    // cost of membership count per woken sync (bridge users sit in hundreds of portals).
    const soloOne = await soloDelivery(tokens[1]!, [rooms[1 % ROOMS]!], owner, filter);
    const soloMany = await soloDelivery(heavy, rooms, owner, filter);

    log('');
    log(
      `bench:sync — ${CLIENTS} open long-polls in ${ROOMS} rooms, ${MESSAGES} messages at ${RATE}/s (after ${WARMUP} unmeasured warm-up messages)`,
    );
    log(`  bare HTTP round trip (floor):   p50 ${percentile(floor, 50).toFixed(2)} ms, p99 ${percentile(floor, 99).toFixed(2)} ms`);
    log(
      `  send-to-sync delivery:          p50 ${percentile(deliveries, 50).toFixed(2)} ms, p99 ${percentile(deliveries, 99).toFixed(2)} ms, max ${deliveries.at(-1)!.toFixed(2)} ms (${deliveries.length}/${expected} deliveries)`,
    );
    log(`    of which the send round trip:  p50 ${percentile(sends, 50).toFixed(2)} ms, p99 ${percentile(sends, 99).toFixed(2)} ms`);
    log(`    sync answered after the send:  p50 ${percentile(syncSide, 50).toFixed(2)} ms, p99 ${percentile(syncSide, 99).toFixed(2)} ms`);
    log(
      `    CPU in that phase (${phaseSeconds.toFixed(1)} s): server ${((100 * serverCpu) / phaseSeconds).toFixed(0)}%, load generator ${((100 * selfCpu) / phaseSeconds).toFixed(0)}% of one core; 1-min load average at its start ${load.toFixed(1)} (${availableParallelism()} cores)`,
    );
    log(
      `  initial sync, 100 rooms of ${totalRooms}: median ${percentile(initial, 50).toFixed(1)} ms, max ${initial.at(-1)!.toFixed(1)} ms (7 runs, first included: ${inOrder} ms)`,
    );
    log(
      `  one long-poll alone, ${SOLO_MESSAGES} messages: user in 1 room p50 ${percentile(soloOne, 50).toFixed(2)} ms, p99 ${percentile(soloOne, 99).toFixed(2)} ms; user in ${ROOMS} rooms p50 ${percentile(soloMany, 50).toFixed(2)} ms, p99 ${percentile(soloMany, 99).toFixed(2)} ms`,
    );
    await admin.query(`DROP SCHEMA ${schema} CASCADE`);
  } finally {
    server.kill('SIGTERM');
    if (profile.length) await new Promise((r) => server.once('exit', r));
    client.close();
    await admin.end();
  }
}

const SOLO_MESSAGES = 100;
const SOLO_WARMUP = 10;

/** Send-to-sync latencies of one user's long-poll, with messages sent (at RATE) round-robin into `into`. */
async function soloDelivery(token: string, into: string[], sender: string, filter: string): Promise<number[]> {
  let since = (await client.request('GET', `/_matrix/client/v3/sync?filter=${filter}&timeout=0`, undefined, token)).body.next_batch;
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const res = await client.request('GET', `/_matrix/client/v3/sync?filter=${filter}&timeout=30000&since=${since}`, undefined, token);
      since = res.body.next_batch;
      for (const room of Object.values(res.body.rooms?.join ?? {}) as { timeline: { events: { content: { tag?: string } }[] } }[])
        for (const e of room.timeline.events) {
          const t = e.content.tag && sentAt.get(e.content.tag);
          if (t) latencies.push(res.receivedAt - t);
        }
    }
  })();
  await new Promise((r) => setTimeout(r, 200)); // parked
  const run = randomBytes(3).toString('hex');
  // The first SOLO_WARMUP messages are not measured (this user's first wake-ups fill its caches).
  for (let i = -SOLO_WARMUP; i < SOLO_MESSAGES + 1; i++) {
    const tag = `solo-${run}-${i}`;
    if (i === SOLO_MESSAGES)
      running = false; // the last one only ends the loop
    else if (i >= 0) sentAt.set(tag, performance.now());
    await client.request(
      'PUT',
      `/_matrix/client/v3/rooms/${encodeURIComponent(into[(i + SOLO_WARMUP) % into.length]!)}/send/m.room.message/${tag}`,
      { msgtype: 'm.text', body: 'solo', tag },
      sender,
    );
    await new Promise((r) => setTimeout(r, 1000 / RATE));
  }
  await loop;
  return latencies.sort((a, b) => a - b);
}

async function insertUsers(admin: pg.Client, n: number): Promise<string[]> {
  const tokens = Array.from({ length: n }, () => `bench_${randomBytes(24).toString('base64url')}`);
  const ids = tokens.map((_, i) => `@u${i}:${SERVER}`);
  const now = Date.now();
  await admin.query(`INSERT INTO ${schema}.hs_users (user_id, created_ts) SELECT unnest($1::text[]), $2`, [ids, now]);
  await admin.query(`INSERT INTO ${schema}.hs_devices (user_id, device_id, created_ts) SELECT unnest($1::text[]), 'BENCH', $2`, [ids, now]);
  await admin.query(
    `INSERT INTO ${schema}.hs_access_tokens (token_hash, user_id, device_id, created_ts) SELECT unnest($1::bytea[]), unnest($2::text[]), 'BENCH', $3`,
    [tokens.map((t) => createHash('sha256').update(t).digest()), ids, now],
  );
  return tokens;
}

async function insertBackgroundRooms(admin: pg.Client, n: number): Promise<void> {
  await admin.query(
    `WITH r AS (SELECT g, '!bg' || g || ':${SERVER}' AS room_id FROM generate_series(1, $1) g)
     INSERT INTO ${schema}.hs_rooms (room_id, room_version, creator, head_event_id, head_depth, created_ts)
     SELECT room_id, '11', '@bg:${SERVER}', '$bgm' || g, 2, 0 FROM r`,
    [n],
  );
  for (const [kind, type, key, depth] of [
    ['c', 'm.room.create', '', 1],
    ['m', 'm.room.member', '@bg:bench.local', 2],
  ] as const) {
    await admin.query(
      `INSERT INTO ${schema}.hs_events (event_id, room_id, type, state_key, sender, origin_server_ts, depth, json)
       SELECT '$bg${kind}' || g, '!bg' || g || ':${SERVER}', $2, $3, '@bg:${SERVER}', 0, $4::int,
         json_build_object('room_id', '!bg' || g || ':${SERVER}', 'type', $2::text, 'state_key', $3::text, 'sender', '@bg:${SERVER}',
           'content', json_build_object('membership', 'join'), 'origin_server_ts', 0, 'depth', $4::int, 'prev_events', '[]'::json, 'auth_events', '[]'::json)::text
       FROM generate_series(1, $1) g`,
      [n, type, key, depth],
    );
    await admin.query(
      `INSERT INTO ${schema}.hs_room_state (room_id, type, state_key, event_id) SELECT '!bg' || g || ':${SERVER}', $2, $3, '$bg${kind}' || g FROM generate_series(1, $1) g`,
      [n, type, key],
    );
  }
  await admin.query(
    `INSERT INTO ${schema}.hs_memberships (room_id, user_id, membership, event_id, stream_ordering)
     SELECT '!bg' || g || ':${SERVER}', '@bg:${SERVER}', 'join', '$bgm' || g, 0 FROM generate_series(1, $1) g`,
    [n],
  );
  await admin.query(
    `ANALYZE ${schema}.hs_events; ANALYZE ${schema}.hs_rooms; ANALYZE ${schema}.hs_memberships; ANALYZE ${schema}.hs_room_state`,
  );
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${err.stack ?? err}\n`);
  process.exit(1);
});
