import type { Readable } from 'node:stream';
import type { MessageContent, RemoteMedia } from '../network/message-content.js';
import { entitiesToMatrix, type MentionResolver } from './entities-to-html.js';

/** One Matrix event a remote message becomes; `partId` '' is the main part (replies point at it). */
export interface MatrixPart {
  partId: string;
  type: 'm.room.message' | 'm.sticker';
  content: Record<string, unknown>;
}

export interface ToMatrixDeps {
  mention: MentionResolver;
  /** Streams media into the homeserver (as the sending ghost) and returns the mxc:// URI. */
  upload(stream: Readable, mimeType: string, fileName: string | undefined, size: number | undefined): Promise<string>;
}

const MSGTYPE: Record<RemoteMedia['kind'], string> = {
  image: 'm.image',
  gif: 'm.image',
  sticker: 'm.image',
  video: 'm.video',
  audio: 'm.audio',
  voice: 'm.audio',
  file: 'm.file',
};

/**
 * Network content -> Matrix event content. Text keeps its formatting (HTML) and mentions
 * (`m.mentions`); media is re-uploaded by streaming it from the network into the homeserver;
 * captions use the spec's media caption form (`filename` + `body`); locations become m.location
 * with a geo: URI.
 */
export async function toMatrix(content: MessageContent, deps: ToMatrixDeps): Promise<MatrixPart[]> {
  switch (content.kind) {
    case 'text': {
      const c = entitiesToMatrix(content.text, deps.mention);
      return [
        {
          partId: '',
          type: 'm.room.message',
          content: { msgtype: content.notice ? 'm.notice' : content.emote ? 'm.emote' : 'm.text', ...c },
        },
      ];
    }
    case 'location': {
      const { latitude, longitude, name } = content.location;
      const geo = `geo:${latitude},${longitude}`;
      const body = name ? `Location: ${name}` : `Location: ${latitude}, ${longitude}`;
      return [
        {
          partId: '',
          type: 'm.room.message',
          content: {
            msgtype: 'm.location',
            body,
            geo_uri: geo,
            'org.matrix.msc3488.location': { uri: geo, description: name },
            'm.mentions': {},
          },
        },
      ];
    }
    case 'media':
      return [await mediaPart(content.media, deps)];
  }
}

async function mediaPart(media: RemoteMedia, deps: ToMatrixDeps): Promise<MatrixPart> {
  const fileName = media.fileName ?? defaultName(media);
  const url = await deps.upload(await media.open(), media.mimeType, fileName, media.size);
  const info: Record<string, unknown> = { mimetype: media.mimeType };
  if (media.size !== undefined) info.size = media.size;
  if (media.width !== undefined) info.w = media.width;
  if (media.height !== undefined) info.h = media.height;
  if (media.durationMs !== undefined) info.duration = media.durationMs;
  if (media.kind === 'sticker') {
    return { partId: '', type: 'm.sticker', content: { body: media.caption?.text || fileName, url, info, 'm.mentions': {} } };
  }
  const content: Record<string, unknown> = { msgtype: MSGTYPE[media.kind], body: fileName, url, info, 'm.mentions': {} };
  if (media.caption?.text) {
    const caption = entitiesToMatrix(media.caption, deps.mention);
    Object.assign(content, caption, { filename: fileName });
  }
  if (media.kind === 'voice') {
    content['org.matrix.msc3245.voice'] = {};
    content['org.matrix.msc1767.audio'] = media.durationMs !== undefined ? { duration: media.durationMs } : {};
  }
  if (media.kind === 'gif') content['fi.mau.gif'] = true;
  return { partId: '', type: 'm.room.message', content };
}

function defaultName(media: RemoteMedia): string {
  const ext = media.mimeType.split('/')[1]?.split(/[;+]/)[0] ?? 'bin';
  return `${media.kind}.${ext}`;
}

/** The content of an edit (spec: "Event replacements"): a fallback body plus `m.new_content`. */
export function editContent(targetEventId: string, newContent: Record<string, unknown>): Record<string, unknown> {
  const fallback: Record<string, unknown> = { ...newContent, body: `* ${String(newContent.body ?? '')}` };
  if (typeof newContent.formatted_body === 'string') fallback.formatted_body = `* ${newContent.formatted_body}`;
  return {
    ...fallback,
    'm.new_content': newContent,
    'm.relates_to': { rel_type: 'm.replace', event_id: targetEventId },
  };
}
