import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request, type IncomingMessage } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Platform } from '../../../homeserver/platform.js';
import { buildPlatform, makeUser, SERVER_NAME, type TestUser } from '../../helpers/platform.js';

/**
 * Proves uploads stream to the store instead of being buffered: a 30 MiB upload is paused after
 * 24 MiB, and at that point (a) the bytes are already on disk in the store's temp file and (b) the
 * process holds far less than 24 MiB more memory than before it started (measured after a forced
 * GC, so garbage does not count). No timing is asserted: the test waits for conditions.
 */

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const MiB = 1024 * 1024;
const TOTAL = 30 * MiB;
const PAUSE_AT = 24 * MiB;
const CHUNK = 256 * 1024;

const storeDir = mkdtempSync(join(tmpdir(), 'causeway-media-stream-'));
let p: Platform;
let base: string;
let alice: TestUser;

beforeAll(async () => {
  p = await buildPlatform({ media: { store_path: storeDir } }); // default 50 MiB limit
  alice = await makeUser(p, 'alice');
  await p.app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(p.app.server.address() as { port: number }).port}`;
});
afterAll(async () => {
  await p.close();
  rmSync(storeDir, { recursive: true, force: true });
});

function memory(): number {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** Deterministic content: chunk i is filled with a pattern derived from i. */
function chunk(i: number): Uint8Array {
  const b = new Uint8Array(CHUNK);
  for (let j = 0; j < CHUNK; j += 4) {
    b[j] = i & 0xff;
    b[j + 1] = (i >> 8) & 0xff;
    b[j + 2] = j & 0xff;
    b[j + 3] = (j >> 8) & 0xff;
  }
  return b;
}

async function until(cond: () => boolean, what: string, limitMs = 20_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function partFileSize(): number {
  let dir: string[];
  try {
    dir = readdirSync(join(storeDir, 'tmp'));
  } catch {
    return 0;
  }
  return dir.reduce((n, f) => n + statSync(join(storeDir, 'tmp', f)).size, 0);
}

it('a 30 MiB upload streams to disk without being held in memory', async () => {
  const hash = createHash('sha256');
  const baseline = memory();
  // node:http with backpressure as the client: fetch keeps every chunk of a streamed request body
  // alive until the request is done, which would hide what the server does.
  const req = request(`${base}/_matrix/media/v3/upload?filename=big.bin`, {
    method: 'POST',
    headers: { ...alice.auth, 'content-type': 'application/octet-stream' },
  });
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    req.once('response', resolve);
    req.once('error', reject);
  });
  let sent = 0;
  const send = async (upTo: number) => {
    for (let i = sent / CHUNK; sent < upTo; i++) {
      const c = chunk(i);
      hash.update(c);
      sent += c.length;
      if (!req.write(c)) await new Promise((r) => req.once('drain', r));
    }
  };

  try {
    await send(PAUSE_AT);
    // Wait until the server has written nearly everything sent so far (socket buffers hold the rest).
    await until(() => partFileSize() >= PAUSE_AT - 4 * MiB, 'the first 24 MiB to reach the disk');
    const during = memory() - baseline;
    // Buffering would hold >= 20 MiB here; streaming holds a few socket/stream buffers.
    expect(during).toBeLessThan(8 * MiB);
    await send(TOTAL);
    req.end();
  } catch (err) {
    req.destroy(); // do not leave the server waiting for the rest of the body
    throw err;
  }
  const res = await response;
  expect(res.statusCode).toBe(200);
  let text = '';
  for await (const part of res) text += part;
  const mediaId = JSON.parse(text).content_uri.split('/').pop();

  const row = await p.db.query('SELECT size_bytes, encode(sha256, $2) AS sha FROM hs_media_local WHERE media_id = $1', [mediaId, 'hex']);
  expect(row.rows[0]).toEqual({ size_bytes: TOTAL, sha: hash.digest('hex') });

  // Downloading streams too; check the bytes arrive intact.
  const download = await fetch(`${base}/_matrix/client/v1/media/download/${SERVER_NAME}/${mediaId}`, { headers: alice.auth });
  expect(download.status).toBe(200);
  expect(download.headers.get('content-length')).toBe(String(TOTAL));
  const check = createHash('sha256');
  let received = 0;
  for await (const part of download.body as unknown as AsyncIterable<Uint8Array>) {
    check.update(part);
    received += part.length;
  }
  expect(received).toBe(TOTAL);
  expect(check.digest('hex')).toBe(row.rows[0]!.sha);
});
