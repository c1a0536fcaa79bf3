import type { PortalKey, RemoteMessageId, RemoteReactionId, RemoteUserId } from './ids.js';
import type { MessageContent, MessageRelation } from './message-content.js';
import type { ChatInfo, ChatMember } from './chat-info.js';

/** Who did it on the network. `isFromMe`: the login's own account (sent from another device). */
export interface RemoteSender {
  userId: RemoteUserId;
  isFromMe?: boolean;
}

interface Base {
  portal: PortalKey;
  sender: RemoteSender;
  /** Milliseconds since the epoch, the network's own time for the event. */
  timestamp: number;
}

export interface RemoteMessage extends Base, MessageRelation {
  type: 'message';
  id: RemoteMessageId;
  content: MessageContent;
}

export interface RemoteEdit extends Base {
  type: 'edit';
  targetId: RemoteMessageId;
  content: MessageContent;
}

export interface RemoteDelete extends Base {
  type: 'delete';
  targetId: RemoteMessageId;
}

export interface RemoteReaction extends Base {
  type: 'reaction';
  targetId: RemoteMessageId;
  /** The emoji (or a network sticker key the connector maps to text). */
  key: string;
  reactionId?: RemoteReactionId;
}

export interface RemoteReactionRemove extends Base {
  type: 'reaction_remove';
  targetId: RemoteMessageId;
  key: string;
  reactionId?: RemoteReactionId;
}

export interface RemoteReadReceipt extends Base {
  type: 'read_receipt';
  /** Everything up to and including this message was read. */
  upToId: RemoteMessageId;
}

export interface RemoteTyping extends Base {
  type: 'typing';
  /** 0 means stopped typing. */
  timeoutMs: number;
}

export interface RemoteChatInfoChange extends Base {
  type: 'chat_info_change';
  change: Partial<Omit<ChatInfo, 'members'>>;
}

export interface RemoteMemberChange extends Base {
  type: 'member_change';
  members: ChatMember[];
}

export interface RemoteChatDelete extends Base {
  type: 'chat_delete';
}

/**
 * What a network reports. Connectors hand these to `LoginContext.emit`; the core queues each one
 * on its portal's serial queue, so events of one chat are applied in the order they were emitted.
 */
export type RemoteEvent =
  | RemoteMessage
  | RemoteEdit
  | RemoteDelete
  | RemoteReaction
  | RemoteReactionRemove
  | RemoteReadReceipt
  | RemoteTyping
  | RemoteChatInfoChange
  | RemoteMemberChange
  | RemoteChatDelete;

export type RemoteEventType = RemoteEvent['type'];
