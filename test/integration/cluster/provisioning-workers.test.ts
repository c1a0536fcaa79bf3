import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freshSchemaDb, TEST_DATABASE_URL } from '../../helpers/database.js';
import { freePort, isListening, spawnCli, waitFor, type CliProcess } from '../../helpers/cli-process.js';
import { RemoteFakeNetwork } from './remote-fakenet.js';

/**
 * Provisioning logins across two bridge worker processes (`causeway start` with the bridges role,
 * the fake network's connector) with no sticky load balancer: a process started on W1 is stepped
 * and cancelled through W2, and when W1 is killed (SIGKILL: no goodbye, no answer) W2 gives the
 * unknown-process answer instead of hanging, also for a wait it had forwarded. The finished
 * login's session runs on W1, and W2 forwards its contacts / resolve_identifier / create_dm there
 * (503 once W1 is dead). A runs the client API (the users' tokens are checked there) and delivery.
 */
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const SERVER = 'test.local';
const PREFIX = `provworkers_${randomBytes(4).toString('hex')}`;

interface Worker {
  proc: CliProcess;
  net: RemoteFakeNetwork;
  provisioning: number;
}

let schemaDb: Awaited<ReturnType<typeof freshSchemaDb>>;
let a: CliProcess;
let w1: Worker;
let w2: Worker;
let hs: string;
let env: Record<string, string>;
let alice: { userId: string; token: string };
/** Alice's login, completed in the first test: W1 runs its session. */
let aliceLogin: string;
let bob: { userId: string; token: string };

async function startWorker(masterKey: string): Promise<Worker> {
  const provisioning = await freePort();
  const proc = spawnCli({
    entry: 'test/integration/cluster/fakenet-worker.ts',
    args: ['start'],
    env: {
      ...env,
      CAUSEWAY__ROLES: '[bridges]',
      CAUSEWAY__LISTEN__PORT: String(await freePort()),
      CAUSEWAY__BRIDGES: JSON.stringify([
        {
          id: 'fakenet',
          network: 'fakenet',
          appservice: { mode: 'http', homeserver_url: hs, listen_host: '127.0.0.1', listen_port: await freePort() },
          provisioning: { listen_port: provisioning },
          crypto_store: { master_key: masterKey },
        },
      ]),
    },
    ipc: true,
  });
  return { proc, net: new RemoteFakeNetwork(proc.child), provisioning };
}

async function register(username: string): Promise<{ userId: string; token: string }> {
  const post = (body: unknown) =>
    fetch(`${hs}/_matrix/client/v3/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const { session } = await (await post({ username, password: `${username} password` })).json();
  const res = await post({ username, password: `${username} password`, auth: { type: 'm.login.dummy', session } });
  expect(res.status).toBe(200);
  const body = await res.json();
  return { userId: body.user_id, token: body.access_token };
}

/** A provisioning request to one worker with a user's own access token. */
async function provision(
  w: Worker,
  as: { token: string },
  path: string,
  body?: unknown,
): Promise<{ status: number; body: any; ms: number }> {
  const started = performance.now();
  const res = await fetch(`http://127.0.0.1:${w.provisioning}/_matrix/provision/v3${path}`, {
    method: /^\/(whoami|contacts|resolve_identifier)\b/.test(path) ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${as.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: await res.json(), ms: performance.now() - started };
}

beforeAll(async () => {
  schemaDb = await freshSchemaDb(2);
  const client = await freePort();
  hs = `http://127.0.0.1:${client}`;
  env = {
    CAUSEWAY__SERVER_NAME: SERVER,
    CAUSEWAY__DATABASE__ENGINE: 'postgres',
    CAUSEWAY__DATABASE__URL: TEST_DATABASE_URL,
    CAUSEWAY__DATABASE__SCHEMA: schemaDb.schema,
    CAUSEWAY__DATABASE__POOL_SIZE: '3',
    CAUSEWAY__RUNTIME__TRANSPORT: 'redis',
    CAUSEWAY__RUNTIME__REDIS_URL: REDIS_URL,
    CAUSEWAY__RUNTIME__REDIS_PREFIX: PREFIX,
    CAUSEWAY__REGISTRATION__ENABLED: 'true',
    CAUSEWAY__LOG__LEVEL: 'warn',
  };
  const masterKey = randomBytes(32).toString('base64');
  a = spawnCli({ args: ['start', '--roles=client_api,appservice_delivery'], env: { ...env, CAUSEWAY__LISTEN__PORT: String(client) } });
  w1 = await startWorker(masterKey);
  w2 = await startWorker(masterKey);
  const procs = [a, w1.proc, w2.proc];
  await waitFor('A serving the client API', async () => (await fetch(`${hs}/_matrix/client/versions`)).ok, { procs, timeoutMs: 60_000 });
  for (const w of [w1, w2]) await waitFor('a worker serving provisioning', () => isListening(w.provisioning), { procs, timeoutMs: 60_000 });
  alice = await register('alice');
  bob = await register('bob');
}, 120_000);

afterEach(({ task }) => {
  if (task.result?.state !== 'fail') return;
  for (const [name, proc] of [
    ['A', a],
    ['W1', w1?.proc],
    ['W2', w2?.proc],
  ] as const)
    console.error(`--- process ${name} output ---\n${proc?.output().slice(-4000)}`);
});

afterAll(async () => {
  await Promise.all([w1?.proc.stop(10_000), w2?.proc.stop(10_000), a?.stop(10_000)]);
  await schemaDb?.close();
  const redis = new Redis(REDIS_URL);
  const left = await redis.keys(`${PREFIX}:*`);
  if (left.length) await redis.del(...left);
  await redis.quit();
}, 30_000);

describe('provisioning logins across bridge worker processes', { timeout: 60_000 }, () => {
  it('completes a login started on W1 with its steps sent to W2, and shows it on both', async () => {
    const phone = '+15550201';
    const start = await provision(w1, alice, '/login/start/phone');
    expect(start.status).toBe(200);
    const id = start.body.login_id as string;
    const codeStep = await provision(w2, alice, `/login/step/${id}/fakenet.phone/user_input`, { phone_number: phone });
    expect(codeStep).toMatchObject({ status: 200, body: { login_id: id, step_id: 'fakenet.code' } });
    // Bob's token, checked by W2, names Bob to W1: the process is not his.
    const foreign = await provision(w2, bob, `/login/step/${id}/fakenet.code/user_input`, { code: '00000' });
    expect(foreign).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND', error: 'Login process not found' } });
    // The code was sent by the network W1 talks to.
    const code = await w1.net.call('lastCode', phone);
    const done = await provision(w2, alice, `/login/step/${id}/fakenet.code/user_input`, { code });
    expect(done).toMatchObject({ status: 200, body: { type: 'complete', complete: { user_login_id: expect.any(String) } } });
    for (const w of [w1, w2]) {
      const whoami = await provision(w, alice, '/whoami');
      expect(whoami.body.logins.map((l: { id: string }) => l.id)).toEqual([done.body.complete.user_login_id]);
    }
    aliceLogin = done.body.complete.user_login_id;
  });

  it('answers contacts, resolve_identifier and create_dm of W1’s login through W2 as through W1', async () => {
    const carol = await w1.net.call('addUser', { name: 'Carol', phone: '+15550203' });
    // The session connects in the background after the login completes.
    await waitFor('Alice’s session running on W1', async () => (await provision(w1, alice, '/contacts')).status === 200, {
      procs: [w1.proc, w2.proc],
      timeoutMs: 15_000,
    });
    const both = async (as: { token: string }, path: string) => [await provision(w2, as, path), await provision(w1, as, path)];
    const [contactsW2, contactsW1] = await both(alice, '/contacts');
    expect(contactsW1).toMatchObject({ status: 200, body: { contacts: expect.any(Array) } });
    expect(contactsW2).toMatchObject({ status: 200, body: contactsW1!.body });
    const [resolvedW2, resolvedW1] = await both(alice, `/resolve_identifier/${encodeURIComponent(carol.phone!)}`);
    expect(resolvedW1).toMatchObject({ status: 200, body: { id: carol.id, name: 'Carol' } });
    expect(resolvedW2).toMatchObject({ status: 200, body: resolvedW1!.body });
    // Created by W1's session on W2's request, then found by either.
    const created = await provision(w2, alice, `/create_dm/${carol.id}`);
    expect(created).toMatchObject({ status: 201, body: { id: carol.id, dm_room_mxid: expect.stringMatching(/^!/) } });
    const [againW2, againW1] = await both(alice, `/create_dm/${carol.id}`);
    expect(againW1).toMatchObject({ status: 200, body: created.body });
    expect(againW2).toMatchObject({ status: 200, body: created.body });
    // Bob's token, checked by W2: Alice's login is not his, on either worker.
    for (const answer of await both(bob, `/contacts?login_id=${aliceLogin}`)) {
      expect(answer).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND', error: 'Login not found' } });
    }
  });

  it('cancels a process of W1 through W2', async () => {
    const start = await provision(w1, alice, '/login/start/qr');
    const id = start.body.login_id as string;
    expect(await provision(w2, alice, `/login/cancel/${id}`)).toMatchObject({ status: 200, body: {} });
    const after = await provision(w1, alice, `/login/step/${id}/fakenet.qr/display_and_wait`);
    expect(after).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND' } });
  });

  it('answers the unknown-process error, without hanging, once W1 is killed', async () => {
    const phone = await provision(w1, alice, '/login/start/phone');
    const qr = await provision(w1, alice, '/login/start/qr');
    // Blocks on W1 until the next QR code (30 s) or an answer W1 will never send.
    const waiting = provision(w2, alice, `/login/step/${qr.body.login_id}/fakenet.qr/display_and_wait`);
    await new Promise((r) => setTimeout(r, 1_000));
    const killed = performance.now();
    w1.proc.child.kill('SIGKILL');
    await w1.proc.exited;

    // W1's beats stop: W2 gives up within three of them (3 s each), well before the QR's 30 s.
    const ended = await waiting;
    expect(ended).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND', error: 'Login process not found' } });
    expect(performance.now() - killed).toBeLessThan(20_000);

    // Nobody acknowledges a new request for W1's process: the answer comes within the 2 s acknowledgement timeout.
    const step = await provision(w2, alice, `/login/step/${phone.body.login_id}/fakenet.phone/user_input`, { phone_number: '+15550202' });
    expect(step).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND', error: 'Login process not found' } });
    expect(step.ms).toBeLessThan(5_000);

    // W1's lease on Alice's login has not expired yet, but nobody answers for it: not running.
    const contacts = await provision(w2, alice, `/contacts?login_id=${aliceLogin}`);
    expect(contacts).toMatchObject({ status: 503, body: { errcode: 'IO.CAUSEWAY_LOGIN_NOT_RUNNING' } });
    expect(contacts.ms).toBeLessThan(5_000);
  });
});
