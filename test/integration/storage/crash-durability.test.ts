import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';

/**
 * The promise behind the embedded default: an event acknowledged with 200 survives kill -9 of the
 * whole platform (node and its database server together), as after a power cut.
 */
const dataDir = mkdtempSync(join(tmpdir(), 'causeway-crash-'));
chmodSync(dataDir, 0o755); // the embedded server runs as 'postgres' when tests run as root
const port = 20_000 + Math.floor(Math.random() * 10_000);
const base = `http://127.0.0.1:${port}`;
const secret = 'crash-test-shared-secret-0123';
let child: ChildProcess | undefined;

function startPlatform(): ChildProcess {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'start'], {
    cwd: join(import.meta.dirname, '../../..'),
    detached: true, // own process group: kill -9 takes the embedded Postgres down with it
    stdio: ['ignore', 'ignore', 'pipe'],
    env: {
      ...process.env,
      CAUSEWAY__DATABASE__DATA_DIR: join(dataDir, 'pg'),
      CAUSEWAY__LISTEN__PORT: String(port),
      CAUSEWAY__REGISTRATION__SHARED_SECRET: secret,
      CAUSEWAY__LOG__LEVEL: 'warn',
    },
  });
  proc.stderr!.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
  return proc;
}
let output = '';

async function waitUp(): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${base}/_matrix/client/versions`)).ok) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`platform did not start: ${output}`);
}

async function json(method: string, path: string, body?: unknown, token?: string) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

function killGroup(proc: ChildProcess): Promise<void> {
  return new Promise((done) => {
    proc.once('exit', () => setTimeout(done, 300)); // let the orphaned postgres die too
    process.kill(-proc.pid!, 'SIGKILL');
  });
}

afterAll(async () => {
  if (child && child.exitCode === null) await killGroup(child);
  rmSync(dataDir, { recursive: true, force: true });
});

it('keeps an acknowledged event after kill -9 of the whole platform', { timeout: 90_000 }, async () => {
  child = startPlatform();
  await waitUp();
  const { nonce } = (await json('GET', '/_synapse/admin/v1/register')).body;
  const mac = createHmac('sha1', secret).update([nonce, 'survivor', 'password123', 'notadmin'].join('\0')).digest('hex');
  const user = (await json('POST', '/_synapse/admin/v1/register', { nonce, username: 'survivor', password: 'password123', mac })).body;
  const room = (await json('POST', '/_matrix/client/v3/createRoom', {}, user.access_token)).body.room_id;
  const sent = await json(
    'PUT',
    `/_matrix/client/v3/rooms/${encodeURIComponent(room)}/send/m.room.message/t1`,
    { msgtype: 'm.text', body: 'durable' },
    user.access_token,
  );
  expect(sent.status).toBe(200);

  await killGroup(child); // no graceful shutdown: SIGKILL to node and postgres alike
  child = startPlatform();
  await waitUp();
  const login = (await json('POST', '/_matrix/client/v3/login', { type: 'm.login.password', user: 'survivor', password: 'password123' }))
    .body;
  const event = await json(
    'GET',
    `/_matrix/client/v3/rooms/${encodeURIComponent(room)}/event/${encodeURIComponent(sent.body.event_id)}`,
    undefined,
    login.access_token,
  );
  expect(event.status).toBe(200);
  expect(event.body.content.body).toBe('durable');
});
