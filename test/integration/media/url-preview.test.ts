import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../../homeserver/platform.js';
import { IpFilter } from '../../../homeserver/services/media/ip-filter.js';
import { specValidator } from '../../helpers/openapi/spec-validator.js';
import { buildPlatform, call, enc, makeUser, SERVER_NAME, type TestUser } from '../../helpers/platform.js';

/**
 * URL previews against a real HTTP server on loopback. The main platform whitelists 127.0.0.1 (and
 * only that) so it may reach the test server; a second platform keeps the default blacklist and
 * must refuse loopback, also when it hides behind a hostname or a redirect.
 */

const spec = await specValidator();
const storeDir = mkdtempSync(join(tmpdir(), 'causeway-preview-'));
const SPIDER_LIMIT = 64 * 1024;

let png: Buffer;
let site: Server;
let origin: string;
let port: number;
const hits = new Map<string, number>();

let p: Platform;
let strict: Platform;
let alice: TestUser;
let mallory: TestUser;

const V1 = '/_matrix/client/v1/media/preview_url';
const preview = (plat: Platform, user: TestUser | undefined, url: string, prefix = V1) =>
  call(plat, user, 'GET', `${prefix}?url=${enc(url)}`);

beforeAll(async () => {
  png = await sharp({ create: { width: 120, height: 60, channels: 3, background: { r: 200, g: 10, b: 10 } } })
    .png()
    .toBuffer();
  site = createServer((req, res) => {
    hits.set(req.url ?? '/', (hits.get(req.url ?? '/') ?? 0) + 1);
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const html = (body: string | Buffer, type = 'text/html; charset=utf-8') => {
      res.writeHead(200, { 'content-type': type });
      res.end(body);
    };
    if (path === '/page')
      return html(`<!doctype html><html><head>
        <meta property="og:title" content="A &amp; B &#x2014; news">
        <meta property="og:description" content="What happened today">
        <meta property="og:image" content="/img.png">
        <meta property="og:site_name" content="Example">
        <title>ignored title</title></head><body>hello</body></html>`);
    if (path === '/plain')
      return html(`<html><head><title>  Plain
        page </title><meta name="description" content="Just a description"></head></html>`);
    if (path === '/latin1')
      return html(Buffer.from('<html><head><title>caf\xe9</title></head></html>', 'latin1'), 'text/html; charset=iso-8859-1');
    if (path === '/body-image')
      return html(`<html><head><title>no og</title><link rel="icon" href="/favicon.ico"></head>
        <body><img src="/pixel.gif" width="1" height="1"><img src="img.png" width="120" height="60"></body></html>`);
    if (path === '/broken-image')
      return html('<html><head><title>t</title><meta property="og:image" content="/missing.png"></head></html>');
    if (path === '/img.png') {
      res.writeHead(200, { 'content-type': 'image/png' });
      return res.end(png);
    }
    if (path === '/redirect') {
      res.writeHead(302, { location: '/page' });
      return res.end();
    }
    if (path === '/loop') {
      res.writeHead(301, { location: '/loop' });
      return res.end();
    }
    // A redirect to another loopback address: allowed by DNS, refused by the (narrow) whitelist.
    if (path === '/to-internal') {
      res.writeHead(302, { location: `http://127.0.0.2:${port}/page` });
      return res.end();
    }
    if (path === '/big') return html(`<html><head><title>big</title></head><body>${'x'.repeat(SPIDER_LIMIT * 2)}</body></html>`);
    if (path === '/text') return html('just text', 'text/plain');
    if (path === '/slow') return; // never answers: the fetch deadline must end it
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
  });
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
  port = (site.address() as { port: number }).port;
  origin = `http://127.0.0.1:${port}`;

  const url_preview = { enabled: true, ip_range_whitelist: ['127.0.0.1/32'], max_spider_size: SPIDER_LIMIT, timeout_ms: 1000 };
  p = await buildPlatform({ media: { store_path: storeDir, url_preview } });
  strict = await buildPlatform({ media: { store_path: storeDir, url_preview: { enabled: true } } });
  alice = await makeUser(p, 'alice');
  mallory = await makeUser(strict, 'mallory');
});
afterAll(async () => {
  site.closeAllConnections();
  await new Promise((resolve) => site.close(resolve));
  await p.close();
  await strict.close();
  rmSync(storeDir, { recursive: true, force: true });
});

describe('preview_url', () => {
  it('returns OpenGraph data with the image copied into the media repository', async () => {
    const res = await preview(p, alice, `${origin}/page`);
    expect(res.status).toBe(200);
    spec.assertResponse('GET', V1, 200, res.body);
    expect(res.body).toMatchObject({
      'og:title': 'A & B \u2014 news',
      'og:description': 'What happened today',
      'og:site_name': 'Example',
      'og:image:type': 'image/png',
      'og:image:width': 120,
      'og:image:height': 60,
      'matrix:image:size': png.length,
    });
    const mxc = res.body['og:image'] as string;
    expect(mxc).toMatch(new RegExp(`^mxc://${SERVER_NAME.replace('.', '\\.')}/[A-Za-z0-9_-]+$`));
    const image = await p.app.inject({
      method: 'GET',
      url: `/_matrix/client/v1/media/download/${SERVER_NAME}/${mxc.split('/').pop()}`,
      headers: alice.auth,
    });
    expect(image.statusCode).toBe(200);
    expect(image.rawPayload.equals(png)).toBe(true);
  });

  it('falls back to <title> and meta description, and honours the charset', async () => {
    expect((await preview(p, alice, `${origin}/plain`)).body).toEqual({ 'og:title': 'Plain page', 'og:description': 'Just a description' });
    expect((await preview(p, alice, `${origin}/latin1`)).body).toEqual({ 'og:title': 'café' });
  });

  it('without og:image, the largest declared <img> of the page is the preview image (not a tracking pixel)', async () => {
    const res = await preview(p, alice, `${origin}/body-image`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ 'og:title': 'no og', 'og:image:type': 'image/png', 'og:image:width': 120, 'og:image:height': 60 });
    expect(res.body['og:image']).toMatch(/^mxc:\/\//);
  });

  it('a direct image URL previews as the image itself', async () => {
    const res = await preview(p, alice, `${origin}/img.png?direct`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      'og:image:type': 'image/png',
      'og:image:width': 120,
      'og:image:height': 60,
      'matrix:image:size': png.length,
    });
    expect(res.body['og:image']).toMatch(/^mxc:\/\//);
  });

  it('follows redirects, leaves out images that fail, and answers {} for other content', async () => {
    expect((await preview(p, alice, `${origin}/redirect`)).body['og:title']).toBe('A & B \u2014 news');
    expect((await preview(p, alice, `${origin}/broken-image`)).body).toEqual({ 'og:title': 't' });
    expect((await preview(p, alice, `${origin}/text`)).body).toEqual({});
  });

  it('is served on the legacy v3 and r0 paths too, always with a token', async () => {
    for (const prefix of ['/_matrix/media/v3/preview_url', '/_matrix/media/r0/preview_url']) {
      expect((await preview(p, alice, `${origin}/plain`, prefix)).body['og:title']).toBe('Plain page');
      expect((await preview(p, undefined, `${origin}/plain`, prefix)).status).toBe(401);
    }
    expect((await preview(p, undefined, `${origin}/plain`)).status).toBe(401);
  });

  it('caches per URL and time bucket: a repeat does not fetch again', async () => {
    const url = `${origin}/plain?cache-test`;
    await preview(p, alice, url);
    await Promise.all([preview(p, alice, url), preview(p, alice, url)]);
    expect(hits.get('/plain?cache-test')).toBe(1);
    // An old ts is another bucket: fetched again, then cached as well.
    await call(p, alice, 'GET', `${V1}?url=${enc(url)}&ts=1000`);
    await call(p, alice, 'GET', `${V1}?url=${enc(url)}&ts=1500`);
    expect(hits.get('/plain?cache-test')).toBe(2);
    // URLs longer than a btree index entry are cached as well (the key is their hash).
    const long = `${origin}/plain?${'q'.repeat(6000)}`;
    expect((await preview(p, alice, long)).body['og:title']).toBe('Plain page');
    expect((await preview(p, alice, long)).body['og:title']).toBe('Plain page');
    expect(hits.get(`/plain?${'q'.repeat(6000)}`)).toBe(1);
  });

  it('upstream failures are 502 M_UNKNOWN: 404, redirect loops, too large, timeouts, refused connections', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as { port: number }).port;
    await new Promise((resolve) => closed.close(resolve));
    for (const url of [`${origin}/nothing`, `${origin}/loop`, `${origin}/big`, `${origin}/slow`, `http://127.0.0.1:${closedPort}/`]) {
      const res = await preview(p, alice, url);
      expect(res, url).toMatchObject({ status: 502, body: { errcode: 'M_UNKNOWN' } });
    }
  });

  it('bad url parameters are 400 M_MISSING_PARAM / M_INVALID_PARAM', async () => {
    expect(await call(p, alice, 'GET', V1)).toMatchObject({ status: 400, body: { errcode: 'M_MISSING_PARAM' } });
    for (const url of [
      'not a url',
      'ftp://example.org/x',
      'file:///etc/passwd',
      'javascript:alert(1)',
      `http://user:pw@127.0.0.1:${port}/page`,
    ]) {
      expect(await preview(p, alice, url), url).toMatchObject({ status: 400, body: { errcode: 'M_INVALID_PARAM' } });
    }
    expect(await call(p, alice, 'GET', `${V1}?url=${enc(`${origin}/page`)}&ts=soon`)).toMatchObject({ status: 400 });
  });
});

describe('SSRF protection', () => {
  it('the default blacklist refuses loopback with 403 M_FORBIDDEN, also behind a hostname', async () => {
    const before = hits.get('/page');
    for (const url of [
      `${origin}/page`,
      `http://localhost:${port}/page`,
      `http://[::1]:${port}/page`,
      `http://[::ffff:127.0.0.1]:${port}/page`,
    ]) {
      const res = await preview(strict, mallory, url);
      expect(res, url).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });
    }
    expect(hits.get('/page')).toBe(before); // no request of the strict platform ever arrived
  });

  it('every redirect hop is checked: a redirect to a non-whitelisted address is refused', async () => {
    const res = await preview(p, alice, `${origin}/to-internal`);
    expect(res).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });
  });

  it('previews are off by default: 404 M_UNRECOGNIZED', async () => {
    const off = await buildPlatform({ media: { store_path: storeDir } });
    try {
      const u = await makeUser(off, 'olga');
      expect(await preview(off, u, `${origin}/page`)).toMatchObject({ status: 404, body: { errcode: 'M_UNRECOGNIZED' } });
    } finally {
      await off.close();
    }
  });

  it('IpFilter: blacklist, whitelist exceptions, mapped IPv4, and 0.0.0.0 / :: always refused', () => {
    const f = new IpFilter(['10.0.0.0/8', '127.0.0.0/8', 'fc00::/7'], ['10.1.0.0/16', '0.0.0.0/0']);
    expect(f.allows('10.2.3.4')).toBe(true); // 0.0.0.0/0 whitelists every IPv4 address...
    expect(f.allows('0.0.0.0')).toBe(false); // ...but never the unspecified address
    const g = new IpFilter(['10.0.0.0/8', '127.0.0.0/8', 'fc00::/7'], ['10.1.0.0/16']);
    expect(g.allows('10.2.3.4')).toBe(false);
    expect(g.allows('10.1.3.4')).toBe(true);
    expect(g.allows('::ffff:127.0.0.1')).toBe(false);
    expect(g.allows('::ffff:7f00:1')).toBe(false);
    expect(g.allows('fd12::1')).toBe(false);
    expect(g.allows('::')).toBe(false);
    expect(g.allows('93.184.216.34')).toBe(true);
    expect(g.allows('2606:2800:220:1::1')).toBe(true);
    expect(() => new IpFilter(['10.0.0.0/33'], [])).toThrow(/invalid IP range/);
  });
});
