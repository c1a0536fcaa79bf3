import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../../homeserver/platform.js';
import { decideRange } from '../../../homeserver/services/media/byte-range.js';
import { buildPlatform, makeUser, SERVER_NAME, type TestUser } from '../../helpers/platform.js';

/** Range requests on downloads, over real HTTP: 206 partial bodies, 416, and the full 200 fallback. */

const MiB = 1024 * 1024;
const storeDir = mkdtempSync(join(tmpdir(), 'causeway-media-range-'));
const large = randomBytes(24 * MiB);
const small = Buffer.from('0123456789abcdefghij');

let p: Platform;
let base: string;
let alice: TestUser;
let largeId: string;
let smallId: string;

async function upload(body: Buffer, contentType: string): Promise<string> {
  const res = await fetch(`${base}/_matrix/media/v3/upload`, {
    method: 'POST',
    headers: { ...alice.auth, 'content-type': contentType },
    body: body as unknown as BodyInit,
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { content_uri: string }).content_uri.split('/').pop()!;
}

const urls = (mediaId: string) => [
  { url: `/_matrix/client/v1/media/download/${SERVER_NAME}/${mediaId}`, headers: () => alice.auth },
  { url: `/_matrix/media/v3/download/${SERVER_NAME}/${mediaId}/file.bin`, headers: () => ({}) },
];

async function get(url: string, headers: Record<string, string>) {
  const res = await fetch(base + url, { headers });
  return { status: res.status, headers: res.headers, bytes: Buffer.from(await res.arrayBuffer()) };
}

beforeAll(async () => {
  p = await buildPlatform({ media: { store_path: storeDir } });
  alice = await makeUser(p, 'alice');
  await p.app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(p.app.server.address() as { port: number }).port}`;
  largeId = await upload(large, 'video/mp4');
  smallId = await upload(small, 'text/plain');
});
afterAll(async () => {
  await p.close();
  rmSync(storeDir, { recursive: true, force: true });
});

describe('Range on /download (v1 and legacy)', () => {
  it('a plain download is 200 and advertises Accept-Ranges: bytes', async () => {
    for (const { url, headers } of urls(smallId)) {
      const res = await get(url, headers());
      expect(res.status).toBe(200);
      expect(res.headers.get('accept-ranges')).toBe('bytes');
      expect(res.bytes.equals(small)).toBe(true);
    }
  });

  it('bytes=a-b, bytes=a- and bytes=-n are 206 with Content-Range and exactly those bytes', async () => {
    const cases: [string, number, number][] = [
      ['bytes=0-0', 0, 0],
      ['bytes=5-9', 5, 9],
      ['bytes=15-', 15, 19],
      ['bytes=-4', 16, 19],
      ['bytes=10-999', 10, 19], // clamped to the end
      ['bytes=-100', 0, 19], // suffix longer than the file: all of it
    ];
    for (const { url, headers } of urls(smallId)) {
      for (const [range, start, end] of cases) {
        const res = await get(url, { ...headers(), range });
        expect(res.status, range).toBe(206);
        expect(res.headers.get('content-range')).toBe(`bytes ${start}-${end}/${small.length}`);
        expect(res.headers.get('content-length')).toBe(String(end - start + 1));
        expect(res.bytes.toString()).toBe(small.subarray(start, end + 1).toString());
      }
    }
  });

  it('a range past the end is 416 with Content-Range: bytes */size', async () => {
    for (const { url, headers } of urls(smallId)) {
      for (const range of ['bytes=20-', 'bytes=100-200', 'bytes=-0']) {
        const res = await get(url, { ...headers(), range });
        expect(res.status, range).toBe(416);
        expect(res.headers.get('content-range')).toBe(`bytes */${small.length}`);
      }
    }
  });

  it('several ranges, other units and malformed values get the whole file with 200', async () => {
    for (const range of ['bytes=0-1,5-6', 'items=0-1', 'bytes=5-2', 'bytes=abc', 'bytes=-']) {
      const res = await get(urls(smallId)[0]!.url, { ...alice.auth, range });
      expect(res.status, range).toBe(200);
      expect(res.bytes.equals(small)).toBe(true);
    }
  });

  it('serves slices of a 24 MiB file from the store, including its last bytes', async () => {
    const cases: [string, number, number][] = [
      ['bytes=0-65535', 0, 65535],
      [`bytes=${12 * MiB}-${12 * MiB + 999}`, 12 * MiB, 12 * MiB + 999],
      ['bytes=-10', large.length - 10, large.length - 1],
      [`bytes=${large.length - MiB}-`, large.length - MiB, large.length - 1],
    ];
    for (const { url, headers } of urls(largeId)) {
      for (const [range, start, end] of cases) {
        const res = await get(url, { ...headers(), range });
        expect(res.status, range).toBe(206);
        expect(res.headers.get('content-range')).toBe(`bytes ${start}-${end}/${large.length}`);
        expect(res.bytes.equals(large.subarray(start, end + 1))).toBe(true);
      }
    }
    const whole = await get(urls(largeId)[0]!.url, alice.auth);
    expect(whole.status).toBe(200);
    expect(whole.bytes.equals(large)).toBe(true);
  });

  it('missing media is still 404 whatever the range', async () => {
    const res = await get(`/_matrix/client/v1/media/download/${SERVER_NAME}/nope`, { ...alice.auth, range: 'bytes=0-1' });
    expect(res.status).toBe(404);
  });
});

describe('decideRange', () => {
  it('handles empty bodies', () => {
    expect(decideRange('bytes=0-', 0)).toEqual({ kind: 'unsatisfiable' });
    expect(decideRange('bytes=-5', 0)).toEqual({ kind: 'unsatisfiable' });
    expect(decideRange('bytes=1-2', 10)).toEqual({ kind: 'partial', range: { start: 1, end: 2 } });
    expect(decideRange(undefined, 10)).toEqual({ kind: 'full' });
  });
});
