/**
 * Identifiers of things on the remote network, as the bridge stores them.
 *
 * These strings are stored in the bridge database (portal, ghost, message and login rows), so
 * their format is part of the schema: a connector must keep parsing every format it ever wrote.
 * Each connector has its own codec (`make*` / `parse*`); the core treats them as opaque.
 */
declare const brand: unique symbol;
type Branded<T, B extends string> = T & { readonly [brand]: B };

/** One login on the network (a Telegram account, a WhatsApp device's phone number). */
export type LoginId = Branded<string, 'LoginId'>;
/** A remote user (becomes a ghost `@<prefix><escaped id>:server`). */
export type RemoteUserId = Branded<string, 'RemoteUserId'>;
/** A remote chat (becomes a portal room). */
export type RemoteChatId = Branded<string, 'RemoteChatId'>;
/** A remote message, unique within its chat. */
export type RemoteMessageId = Branded<string, 'RemoteMessageId'>;
/** A remote reaction, when the network names reactions (else the core keys them by sender+emoji). */
export type RemoteReactionId = Branded<string, 'RemoteReactionId'>;

/**
 * Which portal a remote event belongs to. DMs (and every chat of networks whose chats are
 * per-account, like WhatsApp) are one portal per receiving login: `receiver` is that login.
 * Shared chats (Telegram groups and channels) leave `receiver` empty so all logins share one room.
 */
export interface PortalKey {
  chatId: RemoteChatId;
  receiver?: LoginId;
}

export const loginId = (s: string) => s as LoginId;
export const remoteUserId = (s: string) => s as RemoteUserId;
export const remoteChatId = (s: string) => s as RemoteChatId;
export const remoteMessageId = (s: string) => s as RemoteMessageId;
export const remoteReactionId = (s: string) => s as RemoteReactionId;
