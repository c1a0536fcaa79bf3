import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../../homeserver/platform.js';
import { specValidator } from '../../helpers/openapi/spec-validator.js';
import { buildPlatform, enc, makeUser, SERVER_NAME, type TestUser } from '../../helpers/platform.js';

const MAX_UPLOAD = 8 * 1024 * 1024;
const spec = await specValidator();
const storeDir = mkdtempSync(join(tmpdir(), 'causeway-media-'));

let p: Platform;
let base: string;
let alice: TestUser;
let bob: TestUser;

beforeAll(async () => {
  p = await buildPlatform({ media: { store_path: storeDir, max_upload_bytes: MAX_UPLOAD, max_pending_uploads: 3 } });
  alice = await makeUser(p, 'alice');
  bob = await makeUser(p, 'bob');
  await p.app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(p.app.server.address() as { port: number }).port}`;
});
afterAll(async () => {
  await p.close();
  rmSync(storeDir, { recursive: true, force: true });
});

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const mediaIdOf = (mxc: string) => mxc.split('/').pop()!;
const authed = (user: TestUser | undefined) => (user ? user.auth : {});

async function upload(user: TestUser | undefined, body: string | Uint8Array, contentType?: string, filename?: string) {
  const url = `/_matrix/media/v3/upload${filename !== undefined ? `?filename=${enc(filename)}` : ''}`;
  const headers: Record<string, string> = { ...authed(user) };
  if (contentType) headers['content-type'] = contentType;
  const res = await fetch(base + url, { method: 'POST', headers, body: body as BodyInit });
  return { status: res.status, body: await res.json(), url };
}

async function get(user: TestUser | undefined, url: string) {
  const res = await fetch(base + url, { headers: authed(user) });
  const bytes = Buffer.from(await res.arrayBuffer());
  const json = res.headers.get('content-type')?.startsWith('application/json') ? JSON.parse(bytes.toString()) : undefined;
  return { status: res.status, headers: res.headers, bytes, json };
}

const v1 = (what: string, mediaId: string, rest = '') => `/_matrix/client/v1/media/${what}/${SERVER_NAME}/${mediaId}${rest}`;

/** An 800x400 PNG with a horizontal gradient, so crops and scales are visibly different. */
async function makePng(width = 800, height = 400): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      raw[i] = Math.floor((x / width) * 255);
      raw[i + 1] = Math.floor((y / height) * 255);
      raw[i + 2] = 128;
    }
  }
  return sharp(raw, { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
}

describe('config', () => {
  it('advertises the upload limit on v1 (authenticated), v3 and r0', async () => {
    for (const url of ['/_matrix/client/v1/media/config', '/_matrix/media/v3/config', '/_matrix/media/r0/config']) {
      const res = await get(alice, url);
      expect(res.status).toBe(200);
      expect(res.json).toEqual({ 'm.upload.size': MAX_UPLOAD });
      spec.assertResponse('GET', url, 200, res.json);
    }
    const anonymous = await get(undefined, '/_matrix/client/v1/media/config');
    expect(anonymous.status).toBe(401);
    expect(anonymous.json.errcode).toBe('M_MISSING_TOKEN');
  });
});

describe('upload and download', () => {
  let png: Buffer;
  let pngId: string;
  let blob: Buffer;
  let blobId: string;
  const blobName = 'Отчёт "Q3" 2024.pdf';

  beforeAll(async () => {
    png = await makePng();
    const a = await upload(alice, png, 'image/png', 'photo.png');
    expect(a.status).toBe(200);
    spec.assertResponse('POST', a.url, 200, a.body);
    expect(a.body.content_uri).toMatch(new RegExp(`^mxc://${SERVER_NAME}/[A-Za-z0-9]{24}$`));
    pngId = mediaIdOf(a.body.content_uri);

    blob = randomBytes(5 * 1024 * 1024 + 17);
    const b = await upload(alice, blob, 'application/pdf', blobName);
    expect(b.status).toBe(200);
    spec.assertResponse('POST', b.url, 200, b.body);
    blobId = mediaIdOf(b.body.content_uri);
  });

  it('serves an image back byte for byte, inline, with the security headers', async () => {
    const res = await get(alice, v1('download', pngId));
    expect(res.status).toBe(200);
    expect(sha256(res.bytes)).toBe(sha256(png));
    expect(res.bytes.equals(png)).toBe(true);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(res.headers.get('content-length')).toBe(String(png.length));
    expect(res.headers.get('content-disposition')).toBe('inline; filename="photo.png"');
    expect(res.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain('sandbox');
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'none'");
    spec.assertResponse('GET', v1('download', pngId), 200, undefined);
  });

  it('serves a large binary as an attachment with an RFC 6266 UTF-8 file name', async () => {
    const res = await get(bob, v1('download', blobId));
    expect(res.status).toBe(200);
    expect(res.bytes.length).toBe(blob.length);
    expect(sha256(res.bytes)).toBe(sha256(blob));
    expect(res.headers.get('content-type')).toBe('application/pdf');
    expect(res.headers.get('content-disposition')).toBe(`attachment; filename*=utf-8''${encodeURIComponent(blobName)}`);
    // The file name round-trips exactly.
    const encoded = /filename\*=utf-8''(.+)$/.exec(res.headers.get('content-disposition')!)![1]!;
    expect(decodeURIComponent(encoded)).toBe(blobName);
  });

  it('the file name in the path overrides the uploaded one', async () => {
    const res = await get(alice, v1('download', pngId, '/holiday.png'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toBe('inline; filename="holiday.png"');
    expect(res.bytes.equals(png)).toBe(true);
    spec.assertResponse('GET', v1('download', pngId, '/holiday.png'), 200, undefined);
  });

  it('legacy v3 and r0 downloads work without a token', async () => {
    for (const prefix of ['/_matrix/media/v3', '/_matrix/media/r0']) {
      const res = await get(undefined, `${prefix}/download/${SERVER_NAME}/${blobId}`);
      expect(res.status).toBe(200);
      expect(sha256(res.bytes)).toBe(sha256(blob));
      expect(res.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
      const named = await get(undefined, `${prefix}/download/${SERVER_NAME}/${pngId}/other.png`);
      expect(named.headers.get('content-disposition')).toBe('inline; filename="other.png"');
    }
  });

  it('authenticated v1 downloads and thumbnails need a token', async () => {
    for (const url of [v1('download', pngId), v1('download', pngId, '/x.png'), v1('thumbnail', pngId, '?width=32&height=32')]) {
      const res = await get(undefined, url);
      expect(res.status).toBe(401);
      expect(res.json.errcode).toBe('M_MISSING_TOKEN');
    }
    const bad = await fetch(base + v1('download', pngId), { headers: { authorization: 'Bearer nope' } });
    expect(bad.status).toBe(401);
    expect((await bad.json()).errcode).toBe('M_UNKNOWN_TOKEN');
  });

  it('keeps the uploaded Content-Type, defaults to application/octet-stream, and omits filename when none was given', async () => {
    const text = await upload(alice, 'hello, world', 'text/plain; charset=utf-8');
    const t = await get(alice, v1('download', mediaIdOf(text.body.content_uri)));
    expect(t.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(t.headers.get('content-disposition')).toBe('inline');
    expect(t.bytes.toString()).toBe('hello, world');

    const html = await upload(alice, '<script>alert(1)</script>', 'text/html', 'x.html');
    const h = await get(alice, v1('download', mediaIdOf(html.body.content_uri)));
    expect(h.headers.get('content-disposition')).toBe('attachment; filename="x.html"');

    const untyped = await fetch(`${base}/_matrix/media/v3/upload`, {
      method: 'POST',
      headers: alice.auth,
      body: new Uint8Array([1, 2, 3]),
    });
    // fetch labels a Uint8Array body with no type; the spec default applies.
    const u = await get(alice, v1('download', mediaIdOf((await untyped.json()).content_uri)));
    expect(u.headers.get('content-type')).toBe('application/octet-stream');
    expect([...u.bytes]).toEqual([1, 2, 3]);
  });

  it('an empty upload is stored and served as zero bytes', async () => {
    const res = await fetch(`${base}/_matrix/media/r0/upload`, {
      method: 'POST',
      headers: { ...alice.auth, 'content-type': 'text/plain' },
    });
    expect(res.status).toBe(200);
    const d = await get(alice, v1('download', mediaIdOf((await res.json()).content_uri)));
    expect(d.status).toBe(200);
    expect(d.bytes.length).toBe(0);
  });

  it('upload needs a token', async () => {
    const res = await upload(undefined, 'x', 'text/plain');
    expect(res.status).toBe(401);
    expect(res.body.errcode).toBe('M_MISSING_TOKEN');
  });

  it('HEAD gives the headers without the body', async () => {
    const res = await fetch(base + v1('download', pngId), { method: 'HEAD', headers: alice.auth });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe(String(png.length));
    expect((await res.arrayBuffer()).byteLength).toBe(0);
  });
});

describe('errors are 4xx, never 500', () => {
  it('unknown media, remote servers and impossible media ids are 404 M_NOT_FOUND', async () => {
    for (const url of [
      v1('download', 'AAAAAAAAAAAAAAAAAAAAAAAA'),
      '/_matrix/client/v1/media/download/matrix.org/AAAAAAAAAAAAAAAAAAAAAAAA',
      '/_matrix/media/v3/download/matrix.org/AAAAAAAAAAAAAAAAAAAAAAAA',
      `/_matrix/client/v1/media/download/${SERVER_NAME}/${enc('bad$id')}`,
      `/_matrix/client/v1/media/thumbnail/${SERVER_NAME}/nope?width=32&height=32`,
      '/_matrix/client/v1/media/thumbnail/example.org:8448/abc?width=32&height=32',
    ]) {
      const res = await get(alice, url);
      expect(res.status, url).toBe(404);
      expect(res.json.errcode, url).toBe('M_NOT_FOUND');
    }
  });

  it('a known media path with the wrong method is 405 M_UNRECOGNIZED', async () => {
    const res = await get(alice, '/_matrix/media/v3/upload');
    expect(res.status).toBe(405);
    expect(res.json.errcode).toBe('M_UNRECOGNIZED');
  });

  it('a malformed server name is 400 M_INVALID_PARAM', async () => {
    const res = await get(alice, `/_matrix/client/v1/media/download/${enc('not a server!')}/abc`);
    expect(res.status).toBe(400);
    expect(res.json.errcode).toBe('M_INVALID_PARAM');
  });
});

describe('size limit', () => {
  it('a declared Content-Length over the limit is 413 M_TOO_LARGE before anything is read', async () => {
    const res = await upload(alice, new Uint8Array(MAX_UPLOAD + 1), 'application/octet-stream');
    expect(res.status).toBe(413);
    expect(res.body.errcode).toBe('M_TOO_LARGE');
    spec.assertResponse('POST', res.url, 413, res.body);
  });

  it('a streamed body that passes the limit is cut off with 413 and leaves nothing behind', async () => {
    const before = await p.db.query('SELECT count(*)::int AS n FROM hs_media_local');
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent >= 64 * 1024 * 1024) return c.close(); // the server hangs up long before this
        sent += 256 * 1024;
        c.enqueue(new Uint8Array(256 * 1024));
      },
    });
    const res = await fetch(`${base}/_matrix/media/v3/upload`, {
      method: 'POST',
      headers: { ...alice.auth, 'content-type': 'application/octet-stream' },
      body,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
    const json = await res.json();
    expect(json.errcode).toBe('M_TOO_LARGE');
    spec.assertResponse('POST', '/_matrix/media/v3/upload', 413, json);
    expect(sent).toBeLessThan(64 * 1024 * 1024);
    const after = await p.db.query('SELECT count(*)::int AS n FROM hs_media_local');
    expect(after.rows[0]!.n).toBe(before.rows[0]!.n);
    expect(readdirSync(join(storeDir, 'tmp'))).toEqual([]);
  });

  it('exactly the limit is accepted', async () => {
    const data = randomBytes(MAX_UPLOAD);
    const res = await upload(alice, data, 'application/octet-stream');
    expect(res.status).toBe(200);
    const d = await get(alice, v1('download', mediaIdOf(res.body.content_uri)));
    expect(sha256(d.bytes)).toBe(sha256(data));
  });
});

describe('thumbnails', () => {
  let pngId: string;
  let jpegId: string;

  beforeAll(async () => {
    pngId = mediaIdOf((await upload(alice, await makePng(800, 400), 'image/png', 'wide.png')).body.content_uri);
    const jpeg = await sharp(await makePng(600, 900))
      .jpeg()
      .toBuffer();
    jpegId = mediaIdOf((await upload(alice, jpeg, 'image/jpeg', 'tall.jpg')).body.content_uri);
  });

  const thumb = async (mediaId: string, query: string, user: TestUser | undefined = alice, prefix = '/_matrix/client/v1/media') => {
    const res = await get(user, `${prefix}/thumbnail/${SERVER_NAME}/${mediaId}?${query}`);
    const meta = res.status === 200 ? await sharp(res.bytes).metadata() : undefined;
    return { ...res, meta };
  };

  it('scale keeps the aspect ratio inside the box', async () => {
    const res = await thumb(pngId, 'width=320&height=240&method=scale');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(res.headers.get('content-disposition')).toBe('inline; filename="thumbnail.png"');
    expect(res.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
    expect(res.meta).toMatchObject({ format: 'png', width: 320, height: 160 });
    spec.assertResponse('GET', `/_matrix/client/v1/media/thumbnail/${SERVER_NAME}/${pngId}`, 200, undefined);
  });

  it('crop gives exactly the requested box', async () => {
    const res = await thumb(pngId, 'width=96&height=96&method=crop');
    expect(res.meta).toMatchObject({ width: 96, height: 96 });
    const small = await thumb(pngId, 'width=32&height=32&method=crop');
    expect(small.meta).toMatchObject({ width: 32, height: 32 });
  });

  it('a size between the configured ones is served from the next larger one (never smaller)', async () => {
    const res = await thumb(pngId, 'width=50&height=50&method=crop');
    expect(res.meta).toMatchObject({ width: 96, height: 96 });
    const scaled = await thumb(pngId, 'width=500&height=100'); // method defaults to scale; 640x480 box
    expect(scaled.meta).toMatchObject({ width: 640, height: 320 });
  });

  it('JPEG sources give JPEG thumbnails; larger boxes than the image do not upscale', async () => {
    const res = await thumb(jpegId, 'width=800&height=600&method=scale');
    expect(res.headers.get('content-type')).toBe('image/jpeg');
    expect(res.meta).toMatchObject({ format: 'jpeg', width: 400, height: 600 });
    const crop = await thumb(jpegId, 'width=96&height=96&method=crop');
    expect(crop.meta).toMatchObject({ width: 96, height: 96 });
  });

  it('thumbnails are cached on disk and in the table, and served identically', async () => {
    const first = await thumb(pngId, 'width=640&height=480&method=scale');
    const second = await thumb(pngId, 'width=640&height=480&method=scale');
    expect(second.bytes.equals(first.bytes)).toBe(true);
    const rows = await p.db.query(
      'SELECT width, height, method, content_type FROM hs_media_thumbnails WHERE media_id = $1 ORDER BY width',
      [pngId],
    );
    expect(rows.rows).toContainEqual({ width: 640, height: 480, method: 'scale', content_type: 'image/png' });
  });

  it('legacy v3 and r0 thumbnails work without a token', async () => {
    for (const prefix of ['/_matrix/media/v3', '/_matrix/media/r0']) {
      const res = await thumb(pngId, 'width=32&height=32&method=crop', undefined, prefix);
      expect(res.status).toBe(200);
      expect(res.meta).toMatchObject({ width: 32, height: 32 });
    }
  });

  it('the animated parameter gives an animated WebP for an animated GIF, a still otherwise', async () => {
    const frame = (r: number) =>
      sharp({ create: { width: 200, height: 100, channels: 3, background: { r, g: 0, b: 0 } } })
        .png()
        .toBuffer();
    const gif = await sharp([await frame(255), await frame(0), await frame(128)], { join: { animated: true } })
      .gif({ delay: [100, 100, 100] })
      .toBuffer();
    expect((await sharp(gif).metadata()).pages).toBe(3);
    const id = mediaIdOf((await upload(alice, gif, 'image/gif', 'anim.gif')).body.content_uri);

    const animated = await thumb(id, 'width=96&height=96&method=crop&animated=true');
    expect(animated.status).toBe(200);
    expect(animated.headers.get('content-type')).toBe('image/webp');
    const meta = await sharp(animated.bytes, { animated: true }).metadata();
    expect(meta.pages).toBe(3);
    expect(meta.width).toBe(96);
    expect(meta.pageHeight).toBe(96);

    const still = await thumb(id, 'width=96&height=96&method=crop&animated=false');
    expect(still.headers.get('content-type')).toBe('image/png');
    expect(still.meta).toMatchObject({ width: 96, height: 96 });
    expect(still.meta!.pages ?? 1).toBe(1);
  });

  it('content that cannot be thumbnailed is 400, not 500', async () => {
    const pdf = mediaIdOf((await upload(alice, randomBytes(1000), 'application/pdf', 'x.pdf')).body.content_uri);
    const notImage = await thumb(pdf, 'width=32&height=32');
    expect(notImage.status).toBe(400);
    expect(notImage.json.errcode).toBe('M_UNKNOWN');
    spec.assertResponse('GET', `/_matrix/client/v1/media/thumbnail/${SERVER_NAME}/${pdf}`, 400, notImage.json);

    const fake = mediaIdOf((await upload(alice, randomBytes(1000), 'image/png', 'fake.png')).body.content_uri);
    const corrupt = await thumb(fake, 'width=32&height=32');
    expect(corrupt.status).toBe(400);
    spec.assertResponse('GET', `/_matrix/media/v3/thumbnail/${SERVER_NAME}/${fake}`, 400, corrupt.json);

    const svg = mediaIdOf((await upload(alice, '<svg xmlns="http://www.w3.org/2000/svg"/>', 'image/svg+xml')).body.content_uri);
    expect((await thumb(svg, 'width=32&height=32')).status).toBe(400);
  });

  it('bad dimensions are 400', async () => {
    for (const q of ['width=0&height=32', 'width=-5&height=32', 'width=abc&height=32', 'height=32', 'width=32&height=32&method=stretch']) {
      const res = await thumb(pngId, q);
      expect(res.status, q).toBe(400);
      spec.assertResponse('GET', `/_matrix/client/v1/media/thumbnail/${SERVER_NAME}/${pngId}`, 400, res.json);
    }
  });
});

describe('asynchronous upload (create + PUT)', () => {
  it('create reserves an id; downloads wait for the PUT; a second PUT is 409', async () => {
    const created = await fetch(`${base}/_matrix/media/v1/create`, { method: 'POST', headers: alice.auth });
    expect(created.status).toBe(200);
    const body = await created.json();
    spec.assertResponse('POST', '/_matrix/media/v1/create', 200, body);
    expect(body.unused_expires_at).toBeGreaterThan(Date.now());
    const mediaId = mediaIdOf(body.content_uri);

    const early = await get(alice, v1('download', mediaId, '?timeout_ms=0'));
    expect(early.status).toBe(504);
    expect(early.json.errcode).toBe('M_NOT_YET_UPLOADED');
    spec.assertResponse('GET', v1('download', mediaId), 504, early.json);

    // A download started before the upload finishes once the content arrives.
    const waiting = get(bob, v1('download', mediaId, '?timeout_ms=15000'));
    await new Promise((r) => setTimeout(r, 100));
    const content = randomBytes(300_000);
    const putUrl = `/_matrix/media/v3/upload/${SERVER_NAME}/${mediaId}?filename=later.bin`;

    const intruder = await fetch(base + putUrl, {
      method: 'PUT',
      headers: { ...bob.auth, 'content-type': 'application/zip' },
      body: content,
    });
    expect(intruder.status).toBe(403);
    spec.assertResponse('PUT', putUrl, 403, await intruder.json());

    const put = await fetch(base + putUrl, { method: 'PUT', headers: { ...alice.auth, 'content-type': 'application/zip' }, body: content });
    expect(put.status).toBe(200);
    const putBody = await put.json();
    expect(putBody).toEqual({});
    spec.assertResponse('PUT', putUrl, 200, putBody);

    const done = await waiting;
    expect(done.status).toBe(200);
    expect(sha256(done.bytes)).toBe(sha256(content));
    expect(done.headers.get('content-disposition')).toBe('attachment; filename="later.bin"');

    const again = await fetch(base + putUrl, { method: 'PUT', headers: alice.auth, body: 'x' });
    expect(again.status).toBe(409);
    const againBody = await again.json();
    expect(againBody.errcode).toBe('M_CANNOT_OVERWRITE_MEDIA');
    spec.assertResponse('PUT', putUrl, 409, againBody);
  });

  it('a PUT to an id that was never created is 404', async () => {
    const url = `/_matrix/media/v3/upload/${SERVER_NAME}/NeverCreated123`;
    const res = await fetch(base + url, { method: 'PUT', headers: alice.auth, body: 'x' });
    expect(res.status).toBe(404);
    spec.assertResponse('PUT', url, 404, await res.json());
    const remote = await fetch(`${base}/_matrix/media/v3/upload/matrix.org/abc`, { method: 'PUT', headers: alice.auth, body: 'x' });
    expect(remote.status).toBe(404);
  });

  it('pending ids per user are limited (429 M_LIMIT_EXCEEDED)', async () => {
    for (let i = 0; i < 3; i++)
      expect((await fetch(`${base}/_matrix/media/v3/create`, { method: 'POST', headers: bob.auth })).status).toBe(200);
    const res = await fetch(`${base}/_matrix/media/v1/create`, { method: 'POST', headers: bob.auth });
    expect(res.status).toBe(429);
    const body = await res.json();
    expect(body.errcode).toBe('M_LIMIT_EXCEEDED');
    spec.assertResponse('POST', '/_matrix/media/v1/create', 429, body);
  });
});

describe('preview_url', () => {
  it('is not offered: M_UNRECOGNIZED (clients then show no previews)', async () => {
    const res = await get(alice, `/_matrix/client/v1/media/preview_url?url=${enc('https://example.org')}`);
    expect(res.status).toBe(404);
    expect(res.json.errcode).toBe('M_UNRECOGNIZED');
  });
});
