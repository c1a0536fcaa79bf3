/**
 * The fake network's own vocabulary (what its "servers" store and push), kept apart from the
 * bridge's network-neutral model so the connector has real translating to do, as a Telegram or
 * WhatsApp connector would.
 *
 * Ids: users `u<n>`, chats `d<n>` (DMs) or `g<n>` (groups), messages are a per-chat sequence number as a string ("1", "2",
 * ...). Sessions are random tokens.
 */
import type { TextEntity } from '../../../bridges/core/network/message-content.js';

export interface FakeAvatar {
  /** Changes whenever the picture does (the bridge uses it to skip re-uploads). */
  id: string;
  mimeType: string;
  bytes: Uint8Array;
}

export interface FakeUser {
  id: string;
  name: string;
  phone: string;
  avatar?: FakeAvatar;
}

export type FakeMediaKind = 'image' | 'video' | 'audio' | 'voice' | 'file' | 'sticker' | 'gif';

/** A message body as the network stores it. Never mutated: an edit replaces the object. */
export type FakeContent =
  | { kind: 'text'; text: string; entities?: TextEntity[]; notice?: boolean; emote?: boolean }
  | {
      kind: 'media';
      mediaId: string;
      mediaKind: FakeMediaKind;
      mimeType: string;
      size: number;
      fileName?: string;
      width?: number;
      height?: number;
      durationMs?: number;
      caption?: { text: string; entities?: TextEntity[] };
    }
  | { kind: 'location'; latitude: number; longitude: number; name?: string };

/** What tests pass to `send`: a plain string is a text message; media carries its bytes. */
export type FakeSendContent =
  | string
  | { text: string; entities?: TextEntity[]; notice?: boolean; emote?: boolean }
  | {
      media: {
        bytes: Uint8Array;
        mimeType: string;
        kind?: FakeMediaKind;
        fileName?: string;
        width?: number;
        height?: number;
        durationMs?: number;
      };
      caption?: { text: string; entities?: TextEntity[] };
    }
  | { location: { latitude: number; longitude: number; name?: string } };

export interface FakeMessage {
  readonly id: string;
  readonly seq: number;
  readonly chatId: string;
  readonly senderId: string;
  readonly ts: number;
  content: FakeContent;
  replyTo?: string;
  editCount: number;
  deleted: boolean;
  /** userId -> emojis that user reacted with. */
  reactions: Map<string, Set<string>>;
}

export interface FakeChat {
  readonly id: string;
  readonly kind: 'dm' | 'group';
  name?: string;
  /** userId -> power level (creator 100, admins 50, others 0). */
  members: Map<string, number>;
  messages: FakeMessage[];
  /** userId -> id of the last message that user has read. */
  receipts: Map<string, string>;
  /** userId -> the last typing notification's timeout (0 = stopped). */
  typing: Map<string, number>;
  /** `${senderId}\n${idempotencyKey}` -> message id, so a retried send returns the original. */
  idempotency: Map<string, string>;
  deleted: boolean;
}

/** What the network pushes to a connected session. Delivered asynchronously, in network order. */
export type NetEvent =
  | { type: 'message'; chatId: string; id: string; senderId: string; ts: number; content: FakeContent; replyTo?: string }
  | { type: 'edit'; chatId: string; messageId: string; senderId: string; ts: number; content: FakeContent }
  | { type: 'delete'; chatId: string; messageId: string; senderId: string; ts: number }
  | { type: 'reaction' | 'reaction_remove'; chatId: string; messageId: string; senderId: string; ts: number; emoji: string }
  | { type: 'read'; chatId: string; senderId: string; ts: number; upToId: string }
  | { type: 'typing'; chatId: string; senderId: string; ts: number; timeoutMs: number }
  | { type: 'chat_info'; chatId: string; senderId: string; ts: number; name: string }
  | { type: 'members'; chatId: string; senderId: string; ts: number; changes: { userId: string; membership: 'join' | 'leave' }[] }
  | { type: 'chat_delete'; chatId: string; senderId: string; ts: number };

/**
 * One entry of an account's update log (Telegram's pts, WhatsApp's offline queue): every event
 * the account saw except typing, numbered 1, 2, 3, ... per account, as the server keeps it.
 */
export interface LoggedUpdate {
  pts: number;
  event: NetEvent;
}

/** A push as a connection receives it: the event and its pts in the account's log (typing has none). */
export type PushedEvent = NetEvent & { pts?: number };

/**
 * Pushed to the connection that acted, in place of its own update (which it knows already): the
 * pts its action took in the account's log, as Telegram returns pts with a sent message.
 */
export interface OwnUpdate {
  type: 'own_update';
  pts: number;
}

/**
 * getDifference's answer. `updates`: what followed the client's pts, oldest first, up to a page
 * (`final` false: ask again from `pts`). `too_long`: the client's pts is older than the log keeps
 * (Telegram updates.differenceTooLong): it must refetch what it needs (history) and go on from `pts`.
 */
export type Difference = { kind: 'updates'; updates: LoggedUpdate[]; pts: number; final: boolean } | { kind: 'too_long'; pts: number };

/**
 * Why a connection ended. `replaced`: the same session connected elsewhere (WhatsApp
 * StreamReplaced, Telegram AUTH_KEY_DUPLICATED); `logged_out`: the session was revoked;
 * `transient`: the network dropped it (reconnecting works); `closed`: the client closed it.
 */
export type CloseReason = 'replaced' | 'logged_out' | 'transient' | 'closed';

/** Why a connect attempt failed. */
export type ConnectFailure = 'transient' | 'bad_credentials' | 'logged_out';

/** Failures a test can inject into the next send of a user (see FakeNetwork.failNextSend). */
export type SendFailure = 'transient' | 'permanent' | 'lost_ack';
