import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import sharp from 'sharp';
import { MatrixError } from '../../matrix/errors.js';
import type { Logger } from '../../runtime/logger.js';
import type { Db } from '../../storage/db.js';
import { declaredCharset, extractOpenGraph } from './html-meta.js';
import { IpFilter } from './ip-filter.js';
import type { MediaConfig, MediaRepository } from './media-repository.js';
import { FetchError, safeFetch, type FetchedResponse, type FetchOptions } from './safe-fetch.js';
import { baseContentType } from './thumbnailer.js';

export type UrlPreviewConfig = MediaConfig['url_preview'];
export type OpenGraph = Record<string, string | number>;

const USER_AGENT = 'Causeway URL preview (+https://matrix.org)';

/**
 * URL previews (spec: "GET /_matrix/client/v1/media/preview_url"). Fetches the page through
 * {@link safeFetch} (SSRF-checked on every connection), extracts OpenGraph metadata, copies the
 * preview image into the media repository and answers with its mxc URI.
 *
 * Results are cached in hs_url_previews per (url, ts rounded down to `cache_ms`), so any process
 * can answer a repeat from Postgres; concurrent requests for the same key in one process share a
 * single fetch. Failures are not cached.
 *
 * Errors: previews disabled → 404 M_UNRECOGNIZED (what clients expect from servers without the
 * feature); a URL that is not absolute http(s) → 400 M_INVALID_PARAM; a blacklisted address →
 * 403 M_FORBIDDEN; anything going wrong upstream (DNS, connection, timeout, non-2xx, too large)
 * → 502 M_UNKNOWN, as Synapse does.
 */
export class UrlPreviewer {
  private readonly filter: IpFilter;
  private readonly inflight = new Map<string, Promise<OpenGraph>>();

  constructor(private readonly deps: { db: Db; media: MediaRepository; log: Logger; config: UrlPreviewConfig }) {
    this.filter = new IpFilter(deps.config.ip_range_blacklist, deps.config.ip_range_whitelist);
  }

  get enabled(): boolean {
    return this.deps.config.enabled;
  }

  async preview(userId: string, rawUrl: string, ts?: number): Promise<OpenGraph> {
    if (!this.enabled) throw MatrixError.unrecognized('URL previews are disabled on this server');
    const url = parsePreviewUrl(rawUrl);
    const { cache_ms } = this.deps.config;
    const now = Date.now();
    // A ts in the future (or absent) means "now": nobody can ask for a preview that does not exist yet.
    const bucket = Math.floor(Math.min(ts ?? now, now) / cache_ms) * cache_ms;
    const key = `${bucket} ${url.href}`;
    let job = this.inflight.get(key);
    if (!job) {
      job = this.cachedOrFetch(userId, url, bucket).finally(() => this.inflight.delete(key));
      this.inflight.set(key, job);
    }
    return job;
  }

  private async cachedOrFetch(userId: string, url: URL, bucket: number): Promise<OpenGraph> {
    const { db, config } = this.deps;
    const now = Date.now();
    const urlHash = createHash('sha256').update(url.href).digest();
    const hit = await db.query<{ og: string }>(
      'SELECT og FROM hs_url_previews WHERE url_hash = $1 AND bucket = $2 AND url = $3 AND expires_ts > $4',
      [urlHash, bucket, url.href, now],
    );
    if (hit.rows[0]) return JSON.parse(hit.rows[0].og) as OpenGraph;

    const og = await this.build(userId, url);
    // Expired rows go lazily, a few at a time, whenever a new preview is stored.
    await db.query('DELETE FROM hs_url_previews WHERE ctid IN (SELECT ctid FROM hs_url_previews WHERE expires_ts <= $1 LIMIT 100)', [now]);
    await db.query(
      `INSERT INTO hs_url_previews (url_hash, bucket, url, og, fetched_ts, expires_ts) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (url_hash, bucket) DO UPDATE SET url = EXCLUDED.url, og = EXCLUDED.og, fetched_ts = EXCLUDED.fetched_ts,
         expires_ts = EXCLUDED.expires_ts`,
      [urlHash, bucket, url.href, JSON.stringify(og), now, now + config.cache_ms],
    );
    return og;
  }

  private async build(userId: string, url: URL): Promise<OpenGraph> {
    const page = await this.fetch(url);
    const type = baseContentType(String(page.headers['content-type'] ?? ''));
    if (type.startsWith('image/')) return (await this.storeImage(userId, page)) ?? {};
    if (type !== 'text/html' && type !== 'application/xhtml+xml') return {};

    const html = decodeHtml(page.body, String(page.headers['content-type'] ?? ''));
    const og: OpenGraph = extractOpenGraph(html, page.url);
    const imageUrl = og['og:image'];
    delete og['og:image'];
    if (typeof imageUrl === 'string') {
      // The page is still worth previewing when its image is not: leave the image out then.
      const image = await this.fetch(new URL(imageUrl))
        .then((res) => this.storeImage(userId, res))
        .catch((err) => {
          this.deps.log.debug({ err: String(err), host: hostOf(imageUrl) }, 'preview image not fetched');
          return undefined;
        });
      // Any og:image:* values the page claimed describe the remote image; ours replace them.
      for (const k of ['og:image:width', 'og:image:height', 'og:image:type']) delete og[k];
      if (image) Object.assign(og, image);
    }
    return og;
  }

  /** Copies a fetched image into the media repository; undefined if it is not a decodable image. */
  private async storeImage(userId: string, res: FetchedResponse): Promise<OpenGraph | undefined> {
    const contentType = baseContentType(String(res.headers['content-type'] ?? ''));
    if (!contentType.startsWith('image/') || res.body.length === 0) return undefined;
    let meta;
    try {
      meta = await sharp(res.body, { limitInputPixels: this.deps.media.config.max_thumbnail_source_pixels }).metadata();
    } catch {
      return undefined; // claims to be an image but does not decode
    }
    const name = fileNameOf(res.url);
    const mediaId = await this.deps.media.storeFetched(userId, Readable.from([res.body]), contentType, name?.slice(0, 255));
    const og: OpenGraph = {
      'og:image': this.deps.media.mxcUri(mediaId),
      'og:image:type': contentType,
      'matrix:image:size': res.body.length,
    };
    if (meta.width) og['og:image:width'] = meta.width;
    if (meta.height) og['og:image:height'] = meta.height;
    return og;
  }

  /** One SSRF-safe GET, with errors mapped to the Matrix ones; non-2xx answers are failures. */
  private async fetch(url: URL): Promise<FetchedResponse> {
    const { config, log } = this.deps;
    const opts: FetchOptions = {
      filter: this.filter,
      maxBytes: config.max_spider_size,
      timeoutMs: config.timeout_ms,
      maxRedirects: config.max_redirects,
      userAgent: USER_AGENT,
    };
    let res: FetchedResponse;
    try {
      res = await safeFetch(url, opts);
    } catch (err) {
      // Only the host is logged: paths and query strings can carry tokens.
      if (err instanceof FetchError && err.reason === 'blocked') {
        log.info({ host: url.hostname }, 'URL preview refused: blacklisted address');
        throw MatrixError.forbidden('IP address blocked by IP blacklist entry');
      }
      log.info({ host: url.hostname, reason: err instanceof FetchError ? err.reason : 'failed' }, 'URL preview fetch failed');
      throw new MatrixError('M_UNKNOWN', `Failed to download content: ${(err as Error).message}`, 502);
    }
    if (res.status < 200 || res.status >= 300) {
      throw new MatrixError('M_UNKNOWN', `Failed to download content: the remote server answered ${res.status}`, 502);
    }
    return res;
  }
}

/** The `url` parameter as an absolute http(s) URL without credentials, or 400 M_INVALID_PARAM. */
export function parsePreviewUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw MatrixError.invalidParam('url is not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw MatrixError.invalidParam('url must be an http or https URL');
  if (url.username || url.password) throw MatrixError.invalidParam('url must not contain credentials');
  url.hash = ''; // never sent to the server, so not part of the cache key either
  return url;
}

/** The page as text: charset from the Content-Type header, else from a <meta> tag, else UTF-8. */
function decodeHtml(body: Buffer, contentTypeHeader: string): string {
  const fromHeader = /charset\s*=\s*"?([A-Za-z0-9_.:-]+)/i.exec(contentTypeHeader)?.[1];
  const charset = fromHeader ?? declaredCharset(body.subarray(0, 4096).toString('latin1')) ?? 'utf-8';
  try {
    return new TextDecoder(charset).decode(body);
  } catch {
    return new TextDecoder('utf-8').decode(body);
  }
}

/** The last path segment, decoded, as the stored media's upload name (none when empty or malformed). */
function fileNameOf(url: URL): string | undefined {
  try {
    return decodeURIComponent(url.pathname.split('/').pop() ?? '') || undefined;
  } catch {
    return undefined;
  }
}

function hostOf(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return '';
  }
}
