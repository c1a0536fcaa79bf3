import type { Readable } from 'node:stream';
import type { MediaKind, MessageContent } from '../network/message-content.js';
import { htmlToEntities, type PillResolver } from './html-to-entities.js';

export interface FromMatrixDeps {
  pill: PillResolver;
  /** Opens an mxc:// URI as a stream (the homeserver's media download). */
  openMxc(mxc: string): Promise<Readable>;
}

/** Matrix content the bridge cannot carry (encrypted files, unknown msgtypes): not retryable. */
export class UnsupportedContent extends Error {}

const KIND: Record<string, MediaKind> = { 'm.image': 'image', 'm.video': 'video', 'm.audio': 'audio', 'm.file': 'file' };

/**
 * Matrix event content -> network content. HTML is parsed into entities (pills become mentions),
 * the reply fallback is stripped, media opens the homeserver's file as a stream only when the
 * client reads it, and m.location's geo: URI becomes coordinates.
 */
export function fromMatrix(type: string, content: Record<string, unknown>, deps: FromMatrixDeps): MessageContent {
  if (type === 'm.sticker') return media('sticker', content, deps);
  const msgtype = content.msgtype;
  switch (msgtype) {
    case 'm.text':
    case 'm.notice':
    case 'm.emote': {
      const isReply = !!(content['m.relates_to'] as { 'm.in_reply_to'?: unknown } | undefined)?.['m.in_reply_to'];
      const text =
        content.format === 'org.matrix.custom.html' && typeof content.formatted_body === 'string'
          ? htmlToEntities(content.formatted_body, deps.pill)
          : { text: stripReplyFallback(String(content.body ?? ''), isReply) };
      return { kind: 'text', text, ...(msgtype === 'm.notice' ? { notice: true } : {}), ...(msgtype === 'm.emote' ? { emote: true } : {}) };
    }
    case 'm.image':
    case 'm.video':
    case 'm.audio':
    case 'm.file': {
      const kind = msgtype === 'm.audio' && content['org.matrix.msc3245.voice'] ? 'voice' : KIND[msgtype]!;
      return media(kind, content, deps);
    }
    case 'm.location': {
      const m = /^geo:(-?[\d.]+),(-?[\d.]+)/.exec(String(content.geo_uri ?? ''));
      if (!m) throw new UnsupportedContent('m.location without a valid geo_uri');
      const name = String(content.body ?? '').replace(/^Location: /, '');
      return { kind: 'location', location: { latitude: Number(m[1]), longitude: Number(m[2]), ...(name ? { name } : {}) } };
    }
    default:
      throw new UnsupportedContent(`msgtype ${String(msgtype)} is not supported`);
  }
}

function media(kind: MediaKind, content: Record<string, unknown>, deps: FromMatrixDeps): MessageContent {
  const url = content.url;
  if (typeof url !== 'string') throw new UnsupportedContent('encrypted or missing media url');
  const info = (content.info ?? {}) as { mimetype?: string; size?: number; w?: number; h?: number; duration?: number };
  const body = String(content.body ?? '');
  const fileName = typeof content.filename === 'string' ? content.filename : body;
  // Spec v1.10 captions: a `filename` that differs from `body` makes `body` the caption.
  const caption =
    typeof content.filename === 'string' && body && body !== content.filename
      ? content.format === 'org.matrix.custom.html' && typeof content.formatted_body === 'string'
        ? htmlToEntities(content.formatted_body, deps.pill)
        : { text: body }
      : undefined;
  return {
    kind: 'media',
    media: {
      kind,
      mimeType: info.mimetype ?? 'application/octet-stream',
      ...(fileName ? { fileName } : {}),
      ...(info.size !== undefined ? { size: info.size } : {}),
      ...(info.w !== undefined ? { width: info.w } : {}),
      ...(info.h !== undefined ? { height: info.h } : {}),
      ...(info.duration !== undefined ? { durationMs: info.duration } : {}),
      ...(caption ? { caption } : {}),
      open: () => deps.openMxc(url),
    },
  };
}

/** Removes the `> quoted` lines clients put before a reply's own text. */
export function stripReplyFallback(body: string, isReply: boolean): string {
  if (!isReply || !body.startsWith('> ')) return body;
  const lines = body.split('\n');
  let i = 0;
  while (i < lines.length && lines[i]!.startsWith('> ')) i++;
  if (lines[i] === '') i++;
  return lines.slice(i).join('\n');
}
