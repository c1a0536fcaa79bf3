import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freshSchemaDb, TEST_DATABASE_URL } from '../../helpers/database.js';
import { freePort, isListening, spawnCli, waitFor, type CliProcess } from '../../helpers/cli-process.js';
import type { FakenetCall } from './fakenet-worker.js';
import { RemoteFakeNetwork } from './remote-fakenet.js';

/**
 * Cluster mode with the roles in separate real processes (`causeway start`), on one Postgres schema
 * and the Redis runtime: process A runs client_api + appservice_delivery, process B only the bridges
 * (the fake network's connector, through the test-only entry fakenet-worker.ts). They meet only
 * through Postgres, Redis and HTTP: B's registration reaches A through the database and pub/sub, A
 * pushes transactions to B's appservice listener, B calls A's Client-Server API.
 */
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const SERVER = 'test.local';
const ALICE_PHONE = '+15550001';
/** The network as it stands before any bridge: Alice's remote account (u1), Bob (u2) and their DM. */
const NETWORK: FakenetCall[] = [
  { method: 'addUser', args: [{ name: 'Alice Remote', phone: ALICE_PHONE }] },
  { method: 'addUser', args: [{ name: 'Bob', phone: '+15550002' }] },
  { method: 'dm', args: ['u1', 'u2'] },
];

let schemaDb: Awaited<ReturnType<typeof freshSchemaDb>>;
let a: CliProcess;
let b: CliProcess;
let net: RemoteFakeNetwork;
let ports: { client: number; bridgeClient: number; appservice: number; provisioning: number; bridgeMetrics: number };
let env: Record<string, string>;
let hs: string;
let mediaDir: string | undefined;
let dm: string;
let alice: { userId: string; token: string };
let since: string | undefined;
let roomId: string;
let txn = 0;

function startBridgeWorker(network: FakenetCall[]): { proc: CliProcess; net: RemoteFakeNetwork } {
  const proc = spawnCli({
    entry: 'test/integration/cluster/fakenet-worker.ts',
    args: ['start'],
    // Roles from the environment here, from the --roles flag for A: both ways are in use.
    env: {
      ...env,
      CAUSEWAY__ROLES: '[bridges]',
      CAUSEWAY__LISTEN__PORT: String(ports.bridgeClient),
      CAUSEWAY__METRICS__ENABLED: 'true',
      CAUSEWAY__METRICS__LISTEN_PORT: String(ports.bridgeMetrics),
      FAKENET_SEED: JSON.stringify(network),
    },
    ipc: true,
  });
  return { proc, net: new RemoteFakeNetwork(proc.child) };
}

async function matrix(method: string, path: string, body?: unknown, token = alice?.token): Promise<any> {
  const res = await fetch(`${hs}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

async function provision(method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(`http://127.0.0.1:${ports.provisioning}/_matrix/provision/v3${path}`, {
    method,
    headers: { authorization: `Bearer ${alice.token}`, 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** Registers an account on A (open registration, UIA dummy flow). */
async function register(username: string): Promise<{ user_id: string; access_token: string }> {
  const url = `${hs}/_matrix/client/v3/register`;
  const post = (body: unknown) =>
    fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const { session } = await (await post({ username, password: `${username} password` })).json();
  const res = await post({ username, password: `${username} password`, auth: { type: 'm.login.dummy', session } });
  expect(res.status).toBe(200);
  return res.json();
}

/** Alice's next incremental sync from A (short long-poll), continuing from the previous one. */
async function nextSync(): Promise<any> {
  const s = await matrix('GET', `/_matrix/client/v3/sync?timeout=1000${since ? `&since=${encodeURIComponent(since)}` : ''}`);
  since = s.next_batch;
  return s;
}

/** Syncs until a message with `body` arrives in `room` (the syncs are A's; the message may come from B). */
async function syncUntilMessage(room: string, body: string): Promise<void> {
  await waitFor(
    `"${body}" in Alice's sync`,
    async () => {
      const s = await nextSync();
      const events: { type: string; content: { body?: string } }[] = s.rooms?.join?.[room]?.timeline?.events ?? [];
      return events.some((e) => e.type === 'm.room.message' && e.content.body === body);
    },
    { procs: [a, b] },
  );
}

async function networkHas(text: string): Promise<boolean> {
  const messages = await net.call('messages', dm);
  return messages.some((m) => m.senderId === 'u1' && m.content.kind === 'text' && m.content.text === text);
}

beforeAll(async () => {
  schemaDb = await freshSchemaDb(2);
  ports = {
    client: await freePort(),
    bridgeClient: await freePort(),
    appservice: await freePort(),
    provisioning: await freePort(),
    bridgeMetrics: await freePort(),
  };
  hs = `http://127.0.0.1:${ports.client}`;
  mediaDir = mkdtempSync(join(tmpdir(), 'causeway-roles-media-'));
  // One config for every process (as deploy/cluster/ has it); only the roles differ.
  env = {
    CAUSEWAY__SERVER_NAME: SERVER,
    CAUSEWAY__DATABASE__ENGINE: 'postgres',
    CAUSEWAY__DATABASE__URL: TEST_DATABASE_URL,
    CAUSEWAY__DATABASE__SCHEMA: schemaDb.schema,
    CAUSEWAY__DATABASE__POOL_SIZE: '4',
    CAUSEWAY__RUNTIME__TRANSPORT: 'redis',
    CAUSEWAY__RUNTIME__REDIS_URL: REDIS_URL,
    CAUSEWAY__RUNTIME__REDIS_PREFIX: `roles_${randomBytes(4).toString('hex')}`,
    CAUSEWAY__REGISTRATION__ENABLED: 'true',
    CAUSEWAY__MEDIA__STORE_PATH: mediaDir,
    CAUSEWAY__LOG__LEVEL: 'warn',
    CAUSEWAY__BRIDGES: JSON.stringify([
      {
        id: 'fakenet',
        network: 'fakenet',
        appservice: { mode: 'http', homeserver_url: hs, listen_host: '127.0.0.1', listen_port: ports.appservice },
        provisioning: { listen_port: ports.provisioning },
        crypto_store: { master_key: randomBytes(32).toString('base64') },
        outbox: { base_backoff_ms: 200 },
      },
    ]),
  };
  a = spawnCli({
    args: ['start', '--roles=client_api,appservice_delivery'],
    env: { ...env, CAUSEWAY__LISTEN__PORT: String(ports.client) },
  });
  ({ proc: b, net } = startBridgeWorker(NETWORK));
  await waitFor('A serving the client API', async () => (await fetch(`${hs}/_matrix/client/versions`)).ok, {
    procs: [a, b],
    timeoutMs: 60_000,
  });
  await waitFor('B serving provisioning', () => isListening(ports.provisioning), { procs: [a, b], timeoutMs: 60_000 });
  expect(await net.call('userByPhone', ALICE_PHONE)).toMatchObject({ id: 'u1' });
  dm = (await net.call('findDm', 'u1', 'u2'))!;
}, 120_000);

// The processes' own logs (warn and above) say why a step failed; print their end with the failure.
afterEach(({ task }) => {
  if (task.result?.state !== 'fail') return;
  for (const [name, proc] of [
    ['A', a],
    ['B', b],
  ] as const)
    console.error(`--- process ${name} output ---\n${proc?.output().slice(-4000)}`);
});

afterAll(async () => {
  // Bounded: stop() escalates to SIGKILL after its grace period.
  await Promise.all([b?.stop(10_000), a?.stop(10_000)]);
  await schemaDb?.close();
  if (mediaDir) rmSync(mediaDir, { recursive: true, force: true });
}, 30_000);

// Real processes on a shared 2-core machine: room for a slow start or a slow step, still bounded.
describe('roles in separate processes (Postgres + Redis)', { timeout: 60_000 }, () => {
  it('runs the client API only in A and registers B’s bridge with A', async () => {
    expect(await isListening(ports.bridgeClient)).toBe(false); // B has no client_api role
    const { rows } = await schemaDb.query<{ as_token: string }>(`SELECT as_token FROM bridge_appservice WHERE bridge_id = 'fakenet'`);
    // A accepts the as_token B generated and stored: A loaded B's registration (Postgres + pub/sub).
    const whoami = await matrix('GET', '/_matrix/client/v3/account/whoami', undefined, rows[0]!.as_token);
    expect(whoami.user_id).toBe(`@fakenetbot:${SERVER}`);
  });

  it('logs a Matrix user of A in to the network through B’s provisioning API', async () => {
    const registered = await register('alice');
    alice = { userId: registered.user_id, token: registered.access_token };
    await nextSync(); // the starting point of Alice's incremental syncs

    const start = await provision('POST', '/login/start/phone');
    const codeStep = await provision('POST', `/login/step/${start.login_id}/${start.step_id}/user_input`, { phone_number: ALICE_PHONE });
    const code = await net.call('lastCode', ALICE_PHONE);
    const done = await provision('POST', `/login/step/${start.login_id}/${codeStep.step_id}/user_input`, { code });
    expect(done.type).toBe('complete');
    const whoami = await waitFor(
      'the login connected in B',
      async () => {
        const w = await provision('GET', '/whoami');
        return w.logins?.[0]?.state_event === 'CONNECTED' ? w : undefined;
      },
      { procs: [a, b] },
    );
    expect(whoami.logins[0].id).toBe('u1');
    // A bridge worker serves its own metrics: the bridge's sessions are counted where they run.
    const metrics = await (await fetch(`http://127.0.0.1:${ports.bridgeMetrics}/metrics`)).text();
    expect(metrics).toMatch(/^bridge_sessions\{.*bridge_id="fakenet".*\} 1$/m);
  });

  it('brings a remote message through B into the user’s room on A', async () => {
    await net.call('send', 'u2', dm, 'hello from the network');
    roomId = await waitFor('the portal invite in Alice’s sync', async () => Object.keys((await nextSync()).rooms?.invite ?? {})[0], {
      procs: [a, b],
    });
    await matrix('POST', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/join`, {});
    await syncUntilMessage(roomId, 'hello from the network');
  });

  it('sends the user’s reply on A through B to the network', async () => {
    await matrix('PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/r${++txn}`, {
      msgtype: 'm.text',
      body: 'hello from Matrix',
    });
    await waitFor('the reply on the network', () => networkHas('hello from Matrix'), { procs: [a, b] });
  });

  it('keeps accepting while B is down, and delivers to B once it is back', async () => {
    // What the network holds, to rebuild the same network for the restarted worker (ids are per-chat sequence numbers).
    const [session] = await net.call('sessionsOf', 'u1');
    const history: FakenetCall[] = (await net.call('messages', dm)).map((m) => ({
      method: 'send',
      args: [m.senderId, dm, m.content.kind === 'text' ? m.content.text : ''],
    }));
    expect(await b.stop()).toBe(0); // a graceful stop: the login's lease is released for the next worker
    // A never ran the bridge: with B gone, nothing serves its listeners.
    expect(await isListening(ports.provisioning)).toBe(false);
    expect(await isListening(ports.appservice)).toBe(false);

    const sent = await matrix('PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/r${++txn}`, {
      msgtype: 'm.text',
      body: 'sent while the bridge is down',
    });
    expect(sent.event_id).toMatch(/^\$/);
    // A holds the transaction carrying it and retries it (the delivery state names it until B acknowledges).
    await waitFor('a pending transaction for the bridge', async () => {
      const { rows } = await schemaDb.query<{ pending_event_ids: string[] | null }>(
        `SELECT pending_event_ids FROM as_delivery_state WHERE appservice_id = 'fakenet'`,
      );
      return rows[0]?.pending_event_ids?.includes(sent.event_id);
    });

    // The network outlives its bridge: the restarted worker meets the same users, chat, history and session.
    ({ proc: b, net } = startBridgeWorker([...NETWORK, ...history, { method: 'createSession', args: ['u1', session!] }]));
    await waitFor('the message on the network after B restarted', () => networkHas('sent while the bridge is down'), {
      procs: [a, b],
      timeoutMs: 60_000,
    });
    await net.call('send', 'u2', dm, 'welcome back');
    await syncUntilMessage(roomId, 'welcome back');
  }, 120_000);
});
