/**
 * `npm run bench:appservice` — appservice delivery on real Postgres:
 *  1. throughput: a backlog of BENCH_AS_EVENTS room events delivered to a local HTTP appservice
 *     (node:http on 127.0.0.1) and to an inproc:// one, in events/s;
 *  2. lag: events sent through the client API at a fixed BENCH_AS_RATE events/s for
 *     BENCH_AS_SECONDS, and the time from each send's answer (the commit) to the appservice
 *     receiving it, p50/p99;
 *  3. baselines measured in the same run: the raw rate of inserting the backlog rows straight into
 *     hs_events, and the round trip of an empty PUT transaction to the same HTTP appservice.
 * Everything runs in one process (homeserver, appservice, load), as the single-process platform does.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPlatform } from '../../homeserver/platform.js';
import { createLogger } from '../../homeserver/runtime/logger.js';
import { registerInprocAppservice } from '../../appservice-api/transports/inproc.js';
import { freshSchemaDb } from '../helpers/database.js';
import { makeUser, testConfig, enc } from '../helpers/platform.js';

const EVENTS = Number(process.env.BENCH_AS_EVENTS ?? 20_000);
const RATE = Number(process.env.BENCH_AS_RATE ?? 1000);
const SECONDS = Number(process.env.BENCH_AS_SECONDS ?? 5);
const log = (s: string) => process.stdout.write(`${s}\n`);
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};

async function main() {
  // The fake HTTP appservice: counts events, records the receive time of each.
  let httpUp = false;
  let httpReceived = 0;
  const receivedAt = new Map<string, number>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (!httpUp && req.url?.includes('/transactions/bench-')) {
        res.writeHead(200).end('{}');
        return;
      }
      if (!httpUp) {
        res.writeHead(503).end('{}');
        return;
      }
      const now = performance.now();
      const body = JSON.parse(Buffer.concat(chunks).toString() || '{}') as { events?: { event_id: string }[] };
      for (const e of body.events ?? []) receivedAt.set(e.event_id, now);
      httpReceived += body.events?.length ?? 0;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  let inprocUp = false;
  let inprocReceived = 0;
  const unregister = registerInprocAppservice('bench', {
    onTransaction(_txnId, body) {
      if (!inprocUp) throw new Error('down');
      inprocReceived += body.events.length;
    },
  });

  const dir = mkdtempSync(join(tmpdir(), 'causeway-as-bench-'));
  const reg = (id: string, u: string) => {
    const file = join(dir, `${id}.yaml`);
    writeFileSync(
      file,
      JSON.stringify({
        id,
        url: u,
        as_token: `${id}-as`,
        hs_token: `${id}-hs`,
        sender_localpart: `${id}bot`,
        namespaces: { users: [{ exclusive: false, regex: '@bench_.*:test\\.local' }] },
      }),
    );
    return file;
  };
  const config = testConfig({ appservices: { registration_files: [reg('http', url), reg('inproc', 'inproc://bench')] } });
  const db = await freshSchemaDb(16);
  const p = await createPlatform({ config, db, log: createLogger('silent') });
  try {
    const user = await makeUser(p, 'bench_sender');
    const room = (await p.app.inject({ method: 'POST', url: '/_matrix/client/v3/createRoom', headers: user.auth, payload: {} })).json()
      .room_id as string;
    const send = async (i: number) => {
      const r = await p.app.inject({
        method: 'PUT',
        url: `/_matrix/client/v3/rooms/${enc(room)}/send/m.room.message/b${i}`,
        headers: user.auth,
        payload: { msgtype: 'm.text', body: `message ${i}` },
      });
      return r.json().event_id as string;
    };
    const template = await send(-1);

    // Baseline 1: an HTTP round trip to the appservice (empty transaction).
    const rtts: number[] = [];
    for (let i = 0; i < 200; i++) {
      const t0 = performance.now();
      const r = await fetch(`${url}/_matrix/app/v1/transactions/bench-${i}`, { method: 'PUT', body: '{"events":[]}' });
      await r.text();
      rtts.push(performance.now() - t0);
    }

    // Baseline 2 and the backlog: EVENTS rows inserted straight into hs_events (copies of a real event).
    const t0 = performance.now();
    await db.query(
      `INSERT INTO hs_events (event_id, room_id, type, state_key, sender, origin_server_ts, depth, json, unsigned)
       SELECT '$bench' || g || '-' || e.event_id, e.room_id, e.type, e.state_key, e.sender, e.origin_server_ts, e.depth, e.json, e.unsigned
         FROM hs_events e, generate_series(1, $2) g WHERE e.event_id = $1 ORDER BY g`,
      [template, EVENTS],
    );
    const insertSeconds = (performance.now() - t0) / 1000;
    // The appservices have been failing meanwhile; wait until both are caught up to the template event.
    const { rows } = await db.query<{ m: number }>('SELECT max(stream_ordering) AS m FROM hs_events');
    const head = rows[0]!.m;

    const drain = async (up: () => void, received: () => number, id: string) => {
      const before = received();
      const start = performance.now();
      up();
      p.delivery!.wakeAll();
      while ((p.delivery!.loop(id)?.position ?? 0) < head) await new Promise((r) => setTimeout(r, 2));
      return { eps: (received() - before) / ((performance.now() - start) / 1000), n: received() - before };
    };
    // Let each loop sit in its (short, local) backoff, then release them one at a time.
    await new Promise((r) => setTimeout(r, 300));
    const httpRun = await drain(
      () => (httpUp = true),
      () => httpReceived,
      'http',
    );
    const inprocRun = await drain(
      () => (inprocUp = true),
      () => inprocReceived,
      'inproc',
    );

    // Lag at a fixed rate through the client API.
    const committedAt = new Map<string, number>();
    const total = RATE * SECONDS;
    const start = performance.now();
    const inFlight: Promise<void>[] = [];
    for (let i = 0; i < total; i++) {
      const due = start + (i * 1000) / RATE;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      inFlight.push(send(i).then((id) => void committedAt.set(id, performance.now())));
    }
    await Promise.all(inFlight);
    const achieved = total / ((performance.now() - start) / 1000);
    const deadline = Date.now() + 30_000;
    while ([...committedAt.keys()].some((id) => !receivedAt.has(id)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const lags = [...committedAt].filter(([id]) => receivedAt.has(id)).map(([id, t]) => Math.max(0, receivedAt.get(id)! - t));

    log(`appservice delivery bench (Postgres, one process; ${EVENTS} backlog events, ${RATE} ev/s for ${SECONDS}s)`);
    log(`baseline: raw hs_events insert        ${Math.round(EVENTS / insertSeconds).toLocaleString()} events/s`);
    log(`baseline: HTTP round trip to the AS   p50 ${pct(rtts, 50).toFixed(2)} ms, p99 ${pct(rtts, 99).toFixed(2)} ms`);
    log(`delivered to local HTTP appservice    ${Math.round(httpRun.eps).toLocaleString()} events/s (${httpRun.n} events)`);
    log(`delivered to inproc:// appservice     ${Math.round(inprocRun.eps).toLocaleString()} events/s (${inprocRun.n} events)`);
    log(`sends at fixed rate: ${Math.round(achieved)} ev/s achieved, ${lags.length}/${total} received`);
    log(
      `delivery lag (commit -> HTTP AS)      p50 ${pct(lags, 50).toFixed(1)} ms, p99 ${pct(lags, 99).toFixed(1)} ms, max ${pct(lags, 100).toFixed(1)} ms`,
    );
  } finally {
    unregister();
    await p.close();
    await db.close();
    server.closeAllConnections();
    server.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
