import { Slots } from '../../runtime/slots.js';
import { createHash, randomBytes } from 'node:crypto';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import type { Config } from '../../config-schema.js';
import { MatrixError } from '../../matrix/errors.js';
import { generateOpaqueId, isValidServerName } from '../../matrix/ids.js';
import type { Logger } from '../../runtime/logger.js';
import type { PubSub } from '../../runtime/ports.js';
import type { Db } from '../../storage/db.js';
import type { Requester } from '../requester.js';
import { decideRange, type ByteRange } from './byte-range.js';
import type { MediaStore } from './media-store.js';
import { UrlPreviewer } from './url-preview.js';
import {
  generateThumbnail,
  isThumbnailable,
  mayAnimate,
  selectThumbnailSize,
  ThumbnailError,
  type ThumbnailMethod,
  type ThumbnailSize,
} from './thumbnailer.js';

/** Published when a pending media id (POST /create) gets its content, to wake waiting downloads in every process. */
export const MEDIA_UPLOADED_TOPIC = 'hs.media_uploaded';

/** Longest a download waits for a pending upload (`timeout_ms`), whatever the client asks. */
export const MAX_WAIT_MS = 60_000;
const DEFAULT_WAIT_MS = 20_000;
const MEDIA_ID = /^[A-Za-z0-9_-]{1,255}$/;
const CONTENT_TYPE = /^[A-Za-z0-9!#$&^_.+-]{1,127}\/[A-Za-z0-9!#$&^_.+-]{1,127}(\s*;[\x20-\x7e]*)?$/;
export const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

/** The content repository's own errcodes (their statuses come from the shared table). */
function mediaError(errcode: 'M_NOT_YET_UPLOADED' | 'M_CANNOT_OVERWRITE_MEDIA', _status: number, message: string): MatrixError {
  return new MatrixError(errcode, message);
}

export type MediaConfig = Config['media'];

export interface MediaInfo {
  mediaId: string;
  contentType: string;
  uploadName: string | null;
  size: number;
  sha256: string;
}

export interface MediaContent {
  info: MediaInfo;
  stream: Readable;
  /** Set when the stream holds only this part of the content (a satisfiable `Range` request). */
  range?: ByteRange;
}

/** A `Range` the content cannot satisfy: answered 416 with `Content-Range: bytes *\/size`. */
export class RangeNotSatisfiable extends Error {
  constructor(readonly size: number) {
    super('Requested range not satisfiable');
  }
}

export interface ThumbnailContent {
  contentType: string;
  size: number;
  stream: Readable;
}

export interface ThumbnailRequest {
  width: number;
  height: number;
  method: ThumbnailMethod;
  animated: boolean;
  timeoutMs?: number;
}

interface MediaRow {
  media_id: string;
  user_id: string;
  content_type: string | null;
  upload_name: string | null;
  size_bytes: number | null;
  sha256: Buffer | null;
  store_key: string | null;
  uploaded_ts: number | null;
  expires_ts: number | null;
}

/**
 * Counts and hashes the bytes flowing through, and fails the stream with 413 M_TOO_LARGE as soon
 * as more than `limit` bytes have passed: nothing beyond the limit is ever written.
 */
class LimitAndHash extends Transform {
  bytes = 0;
  private readonly hash = createHash('sha256');
  constructor(private readonly limit: number) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.limit) return done(tooLarge(this.limit));
    this.hash.update(chunk);
    done(null, chunk);
  }
  digest(): Buffer {
    return this.hash.digest();
  }
}

function tooLarge(limit: number): MatrixError {
  return new MatrixError('M_TOO_LARGE', `Upload is larger than the limit of ${limit} bytes`);
}

/** Content is stored Synapse-style, sharded by the first characters of the id: `local_content/ab/cd/efgh...`. */
function contentKey(mediaId: string, suffix = ''): string {
  const id = mediaId.padEnd(5, '_');
  return `local_content/${id.slice(0, 2)}/${id.slice(2, 4)}/${id.slice(4)}${suffix}`;
}

function thumbnailKey(mediaId: string, size: ThumbnailSize, animated: boolean): string {
  const id = mediaId.padEnd(5, '_');
  return `local_thumbnails/${id.slice(0, 2)}/${id.slice(2, 4)}/${id.slice(4)}/${size.width}-${size.height}-${size.method}${animated ? '-animated' : ''}`;
}

/** A normalised content type: what the client sent if it is a well-formed media type, else application/octet-stream. */
export function normaliseContentType(header: string | undefined): string {
  const value = header?.trim();
  return value && CONTENT_TYPE.test(value) ? value : DEFAULT_CONTENT_TYPE;
}

/**
 * The content repository: local uploads (direct, or to an id reserved with POST /create),
 * downloads and thumbnails. Bytes go to a {@link MediaStore}, metadata to hs_media_local and
 * hs_media_thumbnails. Only this server's media exist: there is no federation, so a remote
 * server name is simply not found.
 */
export class MediaRepository {
  private readonly waiters = new Map<string, Set<() => void>>();
  private subscription?: Promise<unknown>;
  private readonly generating = new Map<string, Promise<{ contentType: string; data: Buffer }>>();
  /** Thumbnailing decodes whole images: a few at a time per process keeps memory and CPU bounded. */
  private readonly thumbnailSlots = new Slots(2);
  /** URL previews; their images are stored here as local media. */
  readonly previews: UrlPreviewer;

  constructor(
    private readonly deps: {
      db: Db;
      store: MediaStore;
      pubsub: PubSub;
      log: Logger;
      serverName: string;
      config: MediaConfig;
    },
  ) {
    this.previews = new UrlPreviewer({ db: deps.db, media: this, log: deps.log, config: deps.config.url_preview });
  }

  get config(): MediaConfig {
    return this.deps.config;
  }

  mxcUri(mediaId: string): string {
    return `mxc://${this.deps.serverName}/${mediaId}`;
  }

  /** `POST /upload`: stores the stream under a fresh media id and returns that id. */
  async upload(requester: Requester, body: Readable, contentType: string, uploadName: string | undefined): Promise<string> {
    const mediaId = generateOpaqueId(24);
    const key = contentKey(mediaId);
    const stored = await this.storeContent(key, body);
    const now = Date.now();
    try {
      await this.deps.db.query(
        `INSERT INTO hs_media_local (media_id, user_id, content_type, upload_name, size_bytes, sha256, store_key, created_ts, uploaded_ts)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)`,
        [mediaId, requester.userId, contentType, uploadName ?? null, stored.size, stored.sha256, key, now],
      );
    } catch (err) {
      await this.deps.store.delete(key).catch(() => {});
      throw err;
    }
    return mediaId;
  }

  /** `POST /_matrix/media/v1/create`: reserves a media id the requester uploads to later. */
  async create(requester: Requester): Promise<{ mediaId: string; expiresAt: number }> {
    const now = Date.now();
    const { db, config } = this.deps;
    // Expired reservations are dropped lazily, when their owner asks for a new one.
    await db.query('DELETE FROM hs_media_local WHERE user_id = $1 AND uploaded_ts IS NULL AND expires_ts < $2', [requester.userId, now]);
    const pending = await db.query<{ n: number; next_expiry: number | null }>(
      'SELECT count(*)::int AS n, min(expires_ts) AS next_expiry FROM hs_media_local WHERE user_id = $1 AND uploaded_ts IS NULL',
      [requester.userId],
    );
    const { n, next_expiry } = pending.rows[0]!;
    if (n >= config.max_pending_uploads) throw MatrixError.limitExceeded(Math.max(1000, (next_expiry ?? now) - now));
    const mediaId = generateOpaqueId(24);
    const expiresAt = now + config.unused_expiration_ms;
    await db.query('INSERT INTO hs_media_local (media_id, user_id, created_ts, expires_ts) VALUES ($1, $2, $3, $4)', [
      mediaId,
      requester.userId,
      now,
      expiresAt,
    ]);
    return { mediaId, expiresAt };
  }

  /** `PUT /upload/{serverName}/{mediaId}`: the content of an id reserved with {@link create}. */
  async uploadTo(
    requester: Requester,
    serverName: string,
    mediaId: string,
    body: Readable,
    contentType: string,
    uploadName: string | undefined,
  ): Promise<void> {
    this.checkLocal(serverName, mediaId);
    const row = await this.row(mediaId);
    if (!row || (row.uploaded_ts === null && (row.expires_ts ?? 0) < Date.now())) throw MatrixError.notFound('Unknown media ID');
    if (row.user_id !== requester.userId) throw MatrixError.forbidden('This media ID was created by another user');
    if (row.uploaded_ts !== null) throw mediaError('M_CANNOT_OVERWRITE_MEDIA', 409, 'Media already uploaded');
    // A key of its own per attempt: two concurrent PUTs never write the same object, and the
    // conditional UPDATE below picks the one winner.
    const key = contentKey(mediaId, `.${randomBytes(4).toString('hex')}`);
    const stored = await this.storeContent(key, body);
    const updated = await this.deps.db
      .query(
        `UPDATE hs_media_local SET content_type = $2, upload_name = $3, size_bytes = $4, sha256 = $5, store_key = $6,
           uploaded_ts = $7, expires_ts = NULL
         WHERE media_id = $1 AND uploaded_ts IS NULL`,
        [mediaId, contentType, uploadName ?? null, stored.size, stored.sha256, key, Date.now()],
      )
      .catch(async (err) => {
        await this.deps.store.delete(key).catch(() => {});
        throw err;
      });
    if (updated.rowCount !== 1) {
      await this.deps.store.delete(key).catch(() => {});
      throw mediaError('M_CANNOT_OVERWRITE_MEDIA', 409, 'Media already uploaded');
    }
    this.deps.pubsub
      .publish(MEDIA_UPLOADED_TOPIC, { media_id: mediaId })
      .catch((err) => this.deps.log.warn({ err }, 'media notify failed'));
  }

  /**
   * The metadata and bytes of local media, waiting up to `timeoutMs` for a pending upload. With a
   * `Range` header value, only the requested bytes are read from the store (see byte-range.ts for
   * which headers are honoured); throws {@link RangeNotSatisfiable} for a range past the end.
   */
  async download(serverName: string, mediaId: string, timeoutMs?: number, rangeHeader?: string): Promise<MediaContent> {
    const row = await this.uploadedRow(serverName, mediaId, timeoutMs);
    const info = infoOf(row);
    const decision = decideRange(rangeHeader, info.size);
    if (decision.kind === 'unsatisfiable') throw new RangeNotSatisfiable(info.size);
    const range = decision.kind === 'partial' ? decision.range : undefined;
    const object = await this.deps.store.get(row.store_key!, range);
    if (!object) {
      this.deps.log.error({ mediaId, key: row.store_key }, 'media metadata without content in the store');
      throw MatrixError.notFound('Media not found');
    }
    return { info, stream: object.stream, range };
  }

  /**
   * Stores content the server itself fetched (URL previews), owned by `userId`: same layout and
   * limits as an upload. Returns the new media id.
   */
  async storeFetched(userId: string, body: Readable, contentType: string, uploadName: string | undefined): Promise<string> {
    return this.upload({ userId }, body, contentType, uploadName);
  }

  /** A thumbnail of local media: from the cache, or generated (and cached) now. */
  async thumbnail(serverName: string, mediaId: string, req: ThumbnailRequest): Promise<ThumbnailContent> {
    const { config, db, store } = this.deps;
    const row = await this.uploadedRow(serverName, mediaId, req.timeoutMs);
    const contentType = row.content_type ?? DEFAULT_CONTENT_TYPE;
    if (!isThumbnailable(contentType)) throw cannotThumbnail();
    if (row.size_bytes! > config.max_thumbnail_source_bytes) throw new MatrixError('M_TOO_LARGE', 'Content is too large to thumbnail');
    const size = selectThumbnailSize(config.thumbnail_sizes, config.dynamic_thumbnails, req.width, req.height, req.method);
    const animated = req.animated && mayAnimate(contentType);

    const cached = await db.query<{ content_type: string; store_key: string }>(
      'SELECT content_type, store_key FROM hs_media_thumbnails WHERE media_id = $1 AND width = $2 AND height = $3 AND method = $4 AND animated = $5',
      [mediaId, size.width, size.height, size.method, animated],
    );
    const hit = cached.rows[0];
    if (hit) {
      const object = await store.get(hit.store_key);
      if (object) return { contentType: hit.content_type, size: object.size, stream: object.stream };
      // The file went missing: make it again below.
    }

    // One generation per thumbnail at a time in this process; concurrent requests share it.
    const key = thumbnailKey(mediaId, size, animated);
    let job = this.generating.get(key);
    if (!job) {
      job = this.thumbnailSlots.run(() => this.generateAndStore(row, size, animated, key)).finally(() => this.generating.delete(key));
      this.generating.set(key, job);
    }
    const { contentType: thumbType, data } = await job;
    return { contentType: thumbType, size: data.length, stream: Readable.from([data]) };
  }

  // --- internals -------------------------------------------------------------------------------

  private async generateAndStore(row: MediaRow, size: ThumbnailSize, animated: boolean, key: string) {
    const { config, db, store } = this.deps;
    const source = await store.get(row.store_key!);
    if (!source) throw MatrixError.notFound('Media not found');
    const input = await readAll(source.stream, config.max_thumbnail_source_bytes);
    let thumb;
    try {
      thumb = await generateThumbnail(input, {
        size,
        contentType: row.content_type ?? DEFAULT_CONTENT_TYPE,
        animated,
        maxPixels: config.max_thumbnail_source_pixels,
      });
    } catch (err) {
      if (err instanceof ThumbnailError) {
        throw err.reason === 'too_large' ? new MatrixError('M_TOO_LARGE', 'Content is too large to thumbnail') : cannotThumbnail();
      }
      throw err;
    }
    await store.put(key, Readable.from([thumb.data]));
    await db.query(
      `INSERT INTO hs_media_thumbnails (media_id, width, height, method, animated, content_type, size_bytes, store_key, created_ts)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (media_id, width, height, method, animated)
       DO UPDATE SET content_type = EXCLUDED.content_type, size_bytes = EXCLUDED.size_bytes, store_key = EXCLUDED.store_key`,
      [row.media_id, size.width, size.height, size.method, animated, thumb.contentType, thumb.data.length, key, Date.now()],
    );
    return { contentType: thumb.contentType, data: thumb.data };
  }

  /** Streams a body into the store through the size limit and hash. */
  private async storeContent(key: string, body: Readable): Promise<{ size: number; sha256: Buffer }> {
    const meter = new LimitAndHash(this.deps.config.max_upload_bytes);
    // Wired by hand rather than with stream.pipeline: pipeline would destroy the request (and its
    // socket) when the limit is hit, and the client could not be told 413.
    const interrupted = () => new MatrixError('M_UNKNOWN', 'The upload was interrupted', 400);
    if (body.destroyed && !body.readableEnded) throw interrupted();
    const onError = () => meter.destroy(interrupted());
    const onClose = () => {
      if (!body.readableEnded) meter.destroy(interrupted());
    };
    body.once('error', onError);
    body.once('close', onClose);
    body.pipe(meter);
    try {
      await this.deps.store.put(key, meter);
    } catch (err) {
      if (meter.errored instanceof MatrixError) throw meter.errored;
      throw err;
    } finally {
      body.off('error', onError);
      body.off('close', onClose);
      body.unpipe(meter);
    }
    return { size: meter.bytes, sha256: meter.digest() };
  }

  /** 400 for a malformed server name, 404 for another server's media or an impossible media id. */
  private checkLocal(serverName: string, mediaId: string): void {
    if (!isValidServerName(serverName)) throw MatrixError.invalidParam('Invalid server name');
    if (serverName !== this.deps.serverName) throw MatrixError.notFound('Media not found (remote media is not available on this server)');
    if (!MEDIA_ID.test(mediaId)) throw MatrixError.notFound('Media not found');
  }

  private async row(mediaId: string): Promise<MediaRow | undefined> {
    const res = await this.deps.db.query<MediaRow>(
      `SELECT media_id, user_id, content_type, upload_name, size_bytes, sha256, store_key, uploaded_ts, expires_ts
       FROM hs_media_local WHERE media_id = $1`,
      [mediaId],
    );
    return res.rows[0];
  }

  /** The row of uploaded local media; waits for a pending upload, then 504 M_NOT_YET_UPLOADED. */
  private async uploadedRow(serverName: string, mediaId: string, timeoutMs = DEFAULT_WAIT_MS): Promise<MediaRow> {
    this.checkLocal(serverName, mediaId);
    let row = await this.row(mediaId);
    if (row && row.uploaded_ts === null) {
      const deadline = Date.now() + Math.max(0, Math.min(timeoutMs, MAX_WAIT_MS));
      await this.subscribe();
      while (row && row.uploaded_ts === null && Date.now() < deadline && (row.expires_ts ?? 0) > Date.now()) {
        await this.waitForUpload(mediaId, deadline - Date.now());
        row = await this.row(mediaId);
      }
      if (row && row.uploaded_ts === null) {
        if ((row.expires_ts ?? 0) <= Date.now()) throw MatrixError.notFound('Media not found');
        throw mediaError('M_NOT_YET_UPLOADED', 504, 'Content has not yet been uploaded');
      }
    }
    if (!row) throw MatrixError.notFound('Media not found');
    return row;
  }

  private subscribe(): Promise<unknown> {
    this.subscription ??= this.deps.pubsub
      .subscribe(MEDIA_UPLOADED_TOPIC, (message) => {
        const id = (message as { media_id?: unknown }).media_id;
        if (typeof id !== 'string') return;
        for (const wake of this.waiters.get(id) ?? []) wake();
      })
      .catch((err) => {
        this.subscription = undefined;
        throw err;
      });
    return this.subscription;
  }

  /** Resolves when an upload of `mediaId` is announced or after `ms` (the caller re-reads the row either way). */
  private waitForUpload(mediaId: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const set = this.waiters.get(mediaId) ?? new Set();
      this.waiters.set(mediaId, set);
      const done = () => {
        clearTimeout(timer);
        set.delete(done);
        if (set.size === 0) this.waiters.delete(mediaId);
        resolve();
      };
      // Re-check now and then as well, in case an announcement is lost (pub/sub is fire-and-forget).
      const timer = setTimeout(done, Math.min(ms, 5_000));
      set.add(done);
    });
  }
}

function cannotThumbnail(): MatrixError {
  return new MatrixError('M_UNKNOWN', 'Cannot generate thumbnails for the requested content', 400);
}

function infoOf(row: MediaRow): MediaInfo {
  return {
    mediaId: row.media_id,
    contentType: row.content_type ?? DEFAULT_CONTENT_TYPE,
    uploadName: row.upload_name,
    size: row.size_bytes ?? 0,
    sha256: row.sha256?.toString('hex') ?? '',
  };
}

/** Reads a stream into memory, refusing more than `limit` bytes (thumbnail sources only). */
async function readAll(stream: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > limit) {
      stream.destroy();
      throw new MatrixError('M_TOO_LARGE', 'Content is too large to thumbnail');
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
