import type { FastifyReply } from 'fastify';
import { baseContentType } from '../services/media/thumbnailer.js';

/**
 * Types a browser may render in place (the spec's "Serving inline content" list, as Synapse).
 * Everything else is served as an attachment so that, say, HTML or SVG uploaded by one user is
 * never rendered on the homeserver's origin when another user opens the link.
 */
const INLINE_CONTENT_TYPES = new Set([
  'text/css',
  'text/plain',
  'text/csv',
  'application/json',
  'application/ld+json',
  'image/jpeg',
  'image/gif',
  'image/png',
  'image/apng',
  'image/webp',
  'image/avif',
  'video/mp4',
  'video/webm',
  'video/ogg',
  'video/quicktime',
  'audio/mp4',
  'audio/webm',
  'audio/aac',
  'audio/mpeg',
  'audio/ogg',
  'audio/wave',
  'audio/wav',
  'audio/x-wav',
  'audio/x-pn-wav',
  'audio/flac',
  'audio/x-flac',
]);

/**
 * The CSP Synapse sends with media: a sandboxed document that can load nothing, so content opened
 * directly in a browser cannot run script or reach the homeserver's origin.
 */
export const MEDIA_CSP =
  "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; style-src 'unsafe-inline'; media-src 'self'; object-src 'self';";

export function isInlineContentType(contentType: string): boolean {
  return INLINE_CONTENT_TYPES.has(baseContentType(contentType));
}

/** RFC 5987 `attr-char` encoding: percent-encoded UTF-8, with `'()*` escaped too. */
function encodeRfc5987(value: string): string {
  return encodeURIComponent(value).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * A Content-Disposition value (RFC 6266): `inline` or `attachment`, with the file name as a quoted
 * `filename` when it is plain printable ASCII, else as `filename*=utf-8''...`.
 */
export function contentDisposition(type: 'inline' | 'attachment', fileName: string | null | undefined): string {
  if (!fileName) return type;
  if (/^[\x20-\x7e]*$/.test(fileName) && !/["\\]/.test(fileName)) return `${type}; filename="${fileName}"`;
  return `${type}; filename*=utf-8''${encodeRfc5987(fileName)}`;
}

/** Headers every media body is served with (downloads and thumbnails). */
export function setMediaHeaders(
  reply: FastifyReply,
  opts: { contentType: string; size: number; disposition: string; authenticated: boolean },
): void {
  reply.headers({
    'content-type': opts.contentType,
    'content-length': String(opts.size),
    'content-disposition': opts.disposition,
    'content-security-policy': MEDIA_CSP,
    'x-content-type-options': 'nosniff',
    'cross-origin-resource-policy': 'cross-origin',
    // Media never changes once uploaded. Authenticated responses are for the requester's cache only.
    'cache-control': opts.authenticated ? 'private, max-age=86400' : 'public, max-age=86400, s-maxage=86400',
  });
}
