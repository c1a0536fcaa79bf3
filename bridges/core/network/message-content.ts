import type { Readable } from 'node:stream';
import type { RemoteMessageId, RemoteUserId } from './ids.js';

/**
 * The network-neutral content model. Connectors convert their network's messages into this,
 * and the core's shared converters (bridges/core/convert/) turn it into Matrix content and back,
 * so formatting, mentions, replies and media re-upload are written once for every network.
 */

/** A formatting span over `text`, offsets and lengths in UTF-16 code units (as Telegram's entities). */
export type TextEntity =
  | { type: 'bold' | 'italic' | 'underline' | 'strikethrough' | 'spoiler' | 'code' | 'blockquote'; offset: number; length: number }
  | { type: 'pre'; offset: number; length: number; language?: string }
  | { type: 'link'; offset: number; length: number; url: string }
  | { type: 'mention'; offset: number; length: number; userId: RemoteUserId };

export interface FormattedText {
  text: string;
  entities?: TextEntity[];
}

export type MediaKind = 'image' | 'video' | 'audio' | 'voice' | 'file' | 'sticker' | 'gif';

export interface RemoteMedia {
  kind: MediaKind;
  mimeType: string;
  fileName?: string;
  /** Bytes, when the network says (lets the core refuse too-large files before downloading). */
  size?: number;
  width?: number;
  height?: number;
  durationMs?: number;
  caption?: FormattedText;
  /** Opens the file's bytes as a stream; the core pipes it into the homeserver's media upload. */
  open(): Promise<Readable>;
}

export interface RemoteLocation {
  latitude: number;
  longitude: number;
  name?: string;
}

export type MessageContent =
  | { kind: 'text'; text: FormattedText; notice?: boolean; emote?: boolean }
  | { kind: 'media'; media: RemoteMedia }
  | { kind: 'location'; location: RemoteLocation };

/** A reply or thread reference by remote id; the core maps it to a Matrix event id. */
export interface MessageRelation {
  replyTo?: RemoteMessageId;
  threadRoot?: RemoteMessageId;
}
