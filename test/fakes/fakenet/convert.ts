/**
 * Between the fake network's message bodies and the bridge's network-neutral MessageContent, in
 * both directions. Media goes by reference one way (opened as a stream when the core asks) and is
 * read into bytes the other way (the fake's "upload").
 */
import type { Readable } from 'node:stream';
import type { FormattedText, MessageContent, RemoteMedia } from '../../../bridges/core/network/message-content.js';
import type { FakeContent, FakeSendContent } from './types.js';

export function toMessageContent(c: FakeContent, openMedia: (mediaId: string) => Promise<Readable>): MessageContent {
  if (c.kind === 'text') {
    const text: FormattedText = { text: c.text };
    if (c.entities) text.entities = c.entities;
    return { kind: 'text', text, ...(c.notice ? { notice: true } : {}), ...(c.emote ? { emote: true } : {}) };
  }
  if (c.kind === 'location') {
    const location = { latitude: c.latitude, longitude: c.longitude, ...(c.name !== undefined ? { name: c.name } : {}) };
    return { kind: 'location', location };
  }
  const media: RemoteMedia = { kind: c.mediaKind, mimeType: c.mimeType, size: c.size, open: () => openMedia(c.mediaId) };
  if (c.fileName !== undefined) media.fileName = c.fileName;
  if (c.width !== undefined) media.width = c.width;
  if (c.height !== undefined) media.height = c.height;
  if (c.durationMs !== undefined) media.durationMs = c.durationMs;
  if (c.caption) media.caption = c.caption;
  return { kind: 'media', media };
}

export async function fromMessageContent(c: MessageContent): Promise<FakeSendContent> {
  if (c.kind === 'text') {
    return {
      text: c.text.text,
      ...(c.text.entities ? { entities: c.text.entities } : {}),
      ...(c.notice ? { notice: true } : {}),
      ...(c.emote ? { emote: true } : {}),
    };
  }
  if (c.kind === 'location') return { location: { ...c.location } };
  const m = c.media;
  const bytes = await readAll(await m.open());
  const media = {
    bytes,
    kind: m.kind,
    mimeType: m.mimeType,
    fileName: m.fileName,
    width: m.width,
    height: m.height,
    durationMs: m.durationMs,
  };
  return { media: dropUndefined(media), ...(m.caption ? { caption: m.caption } : {}) };
}

async function readAll(stream: Readable): Promise<Uint8Array> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(parts);
}

function dropUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
