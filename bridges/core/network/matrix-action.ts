import type { PortalKey, RemoteMessageId, RemoteReactionId } from './ids.js';
import type { MessageContent, MessageRelation } from './message-content.js';

/**
 * What a Matrix user did in a portal, converted by the core into the network-neutral model,
 * with every Matrix event id already mapped to its remote id (replies, edits, reactions).
 */
interface MatrixBase {
  portal: PortalKey;
  /** The Matrix event id; the core stores the mapping to the remote id the client returns. */
  eventId: string;
  /** The Matrix sender (the login's owner). */
  sender: string;
  timestamp: number;
}

export interface MatrixMessage extends MatrixBase, MessageRelation {
  content: MessageContent;
  /**
   * The Matrix txn/event id doubles as an idempotency key: a retried outbox job passes the same
   * key, and a client that can (Telegram's random_id, WhatsApp's message id) must reuse it so the
   * network never shows the message twice.
   */
  idempotencyKey: string;
}

export interface MatrixEdit extends MatrixBase {
  targetId: RemoteMessageId;
  content: MessageContent;
}

export interface MatrixRedaction extends MatrixBase {
  /** A message or a reaction of the user. */
  target:
    { kind: 'message'; id: RemoteMessageId } | { kind: 'reaction'; messageId: RemoteMessageId; key: string; reactionId?: RemoteReactionId };
}

export interface MatrixReaction extends MatrixBase {
  targetId: RemoteMessageId;
  key: string;
}

export interface MatrixReadReceipt extends Omit<MatrixBase, 'eventId'> {
  upToId: RemoteMessageId;
}

export interface MatrixTyping extends Omit<MatrixBase, 'eventId'> {
  typing: boolean;
  timeoutMs: number;
}

export interface MatrixMessageResponse {
  remoteId: RemoteMessageId;
  /** The network's timestamp for the message, when it gives one. */
  timestamp?: number;
}
