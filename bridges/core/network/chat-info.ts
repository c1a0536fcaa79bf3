import type { RemoteChatId, RemoteUserId } from './ids.js';

export interface ChatMember {
  userId: RemoteUserId;
  membership: 'join' | 'leave' | 'invite' | 'ban';
  /** Maps to Matrix power levels (admins 50, creators 100). */
  powerLevel?: number;
}

export interface ChatInfo {
  name?: string;
  topic?: string;
  /** Returns the avatar's bytes; `avatarId` changes when the picture does (avoids re-uploads). */
  avatar?: { avatarId: string; mimeType: string; open(): Promise<import('node:stream').Readable> };
  type: 'dm' | 'group' | 'channel';
  /** For DMs: the other party. */
  otherUserId?: RemoteUserId;
  members?: ChatMember[];
}

export interface UserInfo {
  userId: RemoteUserId;
  name?: string;
  avatar?: { avatarId: string; mimeType: string; open(): Promise<import('node:stream').Readable> };
  /** Phone numbers, usernames: shown in the ghost's profile and used by resolve_identifier. */
  identifiers?: string[];
  isBot?: boolean;
}

/** A contact or search result for the provisioning API's contacts / resolve_identifier. */
export interface ResolvedIdentifier {
  userId: RemoteUserId;
  info?: UserInfo;
  /** The DM chat, when one already exists. */
  chatId?: RemoteChatId;
}
