import { createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ByteRange } from './byte-range.js';

/**
 * Where media bytes live. Keys are relative slash-separated names (`local_content/ab/cd/efgh`).
 * Metadata (type, name, size, hash) stays in Postgres; a store only moves bytes, so an S3-compatible
 * store can implement this with a multipart upload (put), GetObject (get) and DeleteObject (delete).
 */
export interface MediaStore {
  /**
   * Streams `source` into the object `key`. Resolves once the object is durable and complete;
   * if the source errors (client gone, size limit hit) it rejects and leaves no object behind.
   * Putting an existing key replaces it atomically.
   */
  put(key: string, source: Readable): Promise<void>;
  /**
   * The object as a stream with its (whole) size, or undefined if there is none. With `range`, the
   * stream yields only those bytes (inclusive, within the object): an S3 store maps it to a ranged
   * GetObject, so a partial download never reads the rest.
   */
  get(key: string, range?: ByteRange): Promise<{ stream: Readable; size: number } | undefined>;
  /** Removes the object; no error if it does not exist. */
  delete(key: string): Promise<void>;
}

const KEY = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*(\/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*$/;

/** Checks a key is a plain relative path (no `..`, no absolute paths, no odd characters). */
export function assertValidKey(key: string): void {
  if (!KEY.test(key) || key.length > 512) throw new Error(`invalid media store key: ${JSON.stringify(key)}`);
}

/**
 * Files under a root directory. A put writes `<root>/tmp/<random>` (flushed to disk), then renames
 * it into place and syncs the directory, so readers never see a partial file and a crash leaves at
 * most a stray temp file.
 */
export class LocalMediaStore implements MediaStore {
  readonly root: string;
  private swept = false;

  constructor(root: string) {
    this.root = resolve(root);
  }

  /** The temp directory puts write into (same filesystem as the objects, for an atomic rename). */
  get tmpDir(): string {
    return join(this.root, 'tmp');
  }

  private pathOf(key: string): string {
    assertValidKey(key);
    return join(this.root, key);
  }

  async put(key: string, source: Readable): Promise<void> {
    const target = this.pathOf(key);
    await mkdir(this.tmpDir, { recursive: true });
    await mkdir(dirname(target), { recursive: true });
    if (!this.swept) {
      this.swept = true;
      await this.sweepTemp();
    }
    const tmp = join(this.tmpDir, `${randomBytes(12).toString('hex')}.part`);
    try {
      await pipeline(source, createWriteStream(tmp, { flags: 'wx', flush: true }));
      await rename(tmp, target);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    await syncDir(dirname(target));
  }

  /** Removes temp files a crash left behind (older than a day: no upload runs that long). */
  private async sweepTemp(): Promise<void> {
    const cutoff = Date.now() - 86_400_000;
    for (const name of await readdir(this.tmpDir).catch(() => [] as string[])) {
      const path = join(this.tmpDir, name);
      const info = await stat(path).catch(() => undefined);
      if (info && info.mtimeMs < cutoff) await rm(path, { force: true });
    }
  }

  async get(key: string, range?: ByteRange): Promise<{ stream: Readable; size: number } | undefined> {
    let handle;
    try {
      handle = await open(this.pathOf(key), 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    try {
      const { size } = await handle.stat();
      // The stream owns the handle from here on and closes it when done or destroyed.
      return { stream: handle.createReadStream(range ? { start: range.start, end: range.end } : {}), size };
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }
}

/** fsync of a directory makes a rename into it durable. */
async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
