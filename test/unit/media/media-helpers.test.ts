import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { configFrom } from '../../../homeserver/config.js';
import { contentDisposition, isInlineContentType } from '../../../homeserver/http/media-headers.js';
import { normaliseContentType } from '../../../homeserver/services/media/media-repository.js';
import { assertValidKey, LocalMediaStore } from '../../../homeserver/services/media/media-store.js';
import { selectThumbnailSize, thumbnailDimensions } from '../../../homeserver/services/media/thumbnailer.js';

const sizes = configFrom({}).media.thumbnail_sizes;

describe('selectThumbnailSize', () => {
  it('picks the smallest configured size of the method that covers the request', () => {
    expect(selectThumbnailSize(sizes, false, 32, 32, 'crop')).toEqual({ width: 32, height: 32, method: 'crop' });
    expect(selectThumbnailSize(sizes, false, 33, 10, 'crop')).toEqual({ width: 96, height: 96, method: 'crop' });
    expect(selectThumbnailSize(sizes, false, 100, 100, 'scale')).toEqual({ width: 320, height: 240, method: 'scale' });
    expect(selectThumbnailSize(sizes, false, 321, 100, 'scale')).toEqual({ width: 640, height: 480, method: 'scale' });
  });

  it('falls back to the largest of the method, and serves exact sizes in dynamic mode', () => {
    expect(selectThumbnailSize(sizes, false, 5000, 5000, 'scale')).toEqual({ width: 800, height: 600, method: 'scale' });
    expect(selectThumbnailSize(sizes, false, 200, 200, 'crop')).toEqual({ width: 96, height: 96, method: 'crop' });
    expect(selectThumbnailSize(sizes, true, 123, 45, 'crop')).toEqual({ width: 123, height: 45, method: 'crop' });
    expect(selectThumbnailSize(sizes, true, 9999, 10, 'scale')).toEqual({ width: 1600, height: 10, method: 'scale' });
  });
});

describe('thumbnailDimensions', () => {
  it('scale fits inside the box without upscaling', () => {
    expect(thumbnailDimensions(800, 400, { width: 320, height: 240, method: 'scale' })).toEqual({ width: 320, height: 160 });
    expect(thumbnailDimensions(600, 900, { width: 320, height: 240, method: 'scale' })).toEqual({ width: 160, height: 240 });
    expect(thumbnailDimensions(100, 50, { width: 320, height: 240, method: 'scale' })).toEqual({ width: 100, height: 50 });
  });

  it('crop keeps the box aspect ratio, shrinking only', () => {
    expect(thumbnailDimensions(800, 400, { width: 96, height: 96, method: 'crop' })).toEqual({ width: 96, height: 96 });
    expect(thumbnailDimensions(50, 20, { width: 96, height: 96, method: 'crop' })).toEqual({ width: 20, height: 20 });
    expect(thumbnailDimensions(1000, 1000, { width: 200, height: 100, method: 'crop' })).toEqual({ width: 200, height: 100 });
  });
});

describe('content headers', () => {
  it('quotes plain ASCII names and uses RFC 5987 for everything else', () => {
    expect(contentDisposition('inline', 'cat.png')).toBe('inline; filename="cat.png"');
    expect(contentDisposition('attachment', null)).toBe('attachment');
    expect(contentDisposition('attachment', 'a "b".txt')).toBe(`attachment; filename*=utf-8''a%20%22b%22.txt`);
    expect(contentDisposition('attachment', "naïve (1)'*.txt")).toBe(`attachment; filename*=utf-8''na%C3%AFve%20%281%29%27%2A.txt`);
    expect(contentDisposition('attachment', 'line\nbreak')).toBe(`attachment; filename*=utf-8''line%0Abreak`);
  });

  it('serves only the spec list inline', () => {
    expect(isInlineContentType('image/PNG')).toBe(true);
    expect(isInlineContentType('text/plain; charset=utf-8')).toBe(true);
    expect(isInlineContentType('audio/ogg')).toBe(true);
    expect(isInlineContentType('text/html')).toBe(false);
    expect(isInlineContentType('image/svg+xml')).toBe(false);
    expect(isInlineContentType('application/pdf')).toBe(false);
  });

  it('keeps well-formed content types and replaces anything else', () => {
    expect(normaliseContentType('image/jpeg')).toBe('image/jpeg');
    expect(normaliseContentType(' text/plain; charset=UTF-8 ')).toBe('text/plain; charset=UTF-8');
    expect(normaliseContentType(undefined)).toBe('application/octet-stream');
    expect(normaliseContentType('nonsense')).toBe('application/octet-stream');
    expect(normaliseContentType('text/plain\r\nX-Evil: 1')).toBe('application/octet-stream');
  });
});

describe('LocalMediaStore', () => {
  const root = mkdtempSync(join(tmpdir(), 'causeway-store-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('puts, gets and deletes, and a failed put leaves nothing', async () => {
    const store = new LocalMediaStore(root);
    await store.put('local_content/ab/cd/efg', Readable.from([Buffer.from('hello '), Buffer.from('world')]));
    expect(readFileSync(join(root, 'local_content/ab/cd/efg'), 'utf8')).toBe('hello world');
    const got = await store.get('local_content/ab/cd/efg');
    expect(got!.size).toBe(11);
    let text = '';
    for await (const c of got!.stream) text += c;
    expect(text).toBe('hello world');

    const failing = new Readable({
      read() {
        this.push(Buffer.from('partial'));
        this.destroy(new Error('client went away'));
      },
    });
    await expect(store.put('local_content/ab/cd/broken', failing)).rejects.toThrow('client went away');
    expect(await store.get('local_content/ab/cd/broken')).toBeUndefined();

    await store.delete('local_content/ab/cd/efg');
    await store.delete('local_content/ab/cd/efg'); // idempotent
    expect(await store.get('local_content/ab/cd/efg')).toBeUndefined();
  });

  it('sweeps temp files a crash left behind on its first put', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'causeway-store-'));
    try {
      mkdirSync(join(dir, 'tmp'));
      writeFileSync(join(dir, 'tmp', 'old.part'), 'stale');
      writeFileSync(join(dir, 'tmp', 'recent.part'), 'maybe in flight');
      const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000);
      utimesSync(join(dir, 'tmp', 'old.part'), twoDaysAgo, twoDaysAgo);
      await new LocalMediaStore(dir).put('a/b', Readable.from([Buffer.from('x')]));
      expect(readdirSync(join(dir, 'tmp'))).toEqual(['recent.part']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses keys that could escape the root', () => {
    for (const bad of ['../x', '/etc/passwd', 'a/../../b', 'a//b', '', 'a/.hidden', 'a\\b']) {
      expect(() => assertValidKey(bad), bad).toThrow();
    }
    expect(() => assertValidKey('local_thumbnails/ab/cd/ef/32-32-crop')).not.toThrow();
  });
});
