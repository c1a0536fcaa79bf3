import type { LoginId, PortalKey, RemoteChatId, RemoteUserId } from './network/ids.js';

/**
 * Matrix-side names of bridge things. Ghost user ids are stored (bridge_ghosts.mxid) and appear in
 * rooms, so this encoding must never change: remote ids are escaped reversibly into the Matrix
 * localpart grammar, keeping [a-z0-9.-] and writing every other UTF-8 byte as `=hh`.
 */
export function escapeLocalpart(raw: string): string {
  let out = '';
  for (const byte of Buffer.from(raw, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[a-z0-9.-]/.test(c) ? c : `=${byte.toString(16).padStart(2, '0')}`;
  }
  return out;
}

export function unescapeLocalpart(escaped: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < escaped.length; i++) {
    if (escaped[i] === '=') {
      bytes.push(parseInt(escaped.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(escaped.charCodeAt(i));
  }
  return Buffer.from(bytes).toString('utf8');
}

/** `@<bridgeId>_<escaped remote id>:<server>`: inside the bridge's exclusive user namespace. */
export function ghostMxid(bridgeId: string, serverName: string, userId: RemoteUserId): string {
  return `@${bridgeId}_${escapeLocalpart(userId)}:${serverName}`;
}

/** The remote user a ghost mxid stands for, or undefined for any other user. */
export function parseGhostMxid(bridgeId: string, serverName: string, mxid: string): RemoteUserId | undefined {
  const prefix = `@${bridgeId}_`;
  const suffix = `:${serverName}`;
  if (!mxid.startsWith(prefix) || !mxid.endsWith(suffix)) return undefined;
  return unescapeLocalpart(mxid.slice(prefix.length, -suffix.length)) as RemoteUserId;
}

export const botLocalpart = (bridgeId: string) => `${bridgeId}bot`;
export const botMxid = (bridgeId: string, serverName: string) => `@${botLocalpart(bridgeId)}:${serverName}`;

/** One string per portal, for maps and queue names. */
export function portalKeyString(key: PortalKey): string {
  return `${key.chatId}\u0000${key.receiver ?? ''}`;
}

/** The stored form: `receiver` is '' for shared portals. */
export function normalizeKey(key: PortalKey): { chatId: RemoteChatId; receiver: LoginId | '' } {
  return { chatId: key.chatId, receiver: key.receiver ?? '' };
}

/**
 * The key of a stored portal reference (a table row, a queued job), the inverse of normalizeKey:
 * an empty or absent receiver is a shared portal, which has no `receiver` at all, so keys read
 * back compare equal to the keys the connectors emit.
 */
export function storedPortalKey(chatId: string, receiver: string | undefined): PortalKey {
  return { chatId: chatId as RemoteChatId, ...(receiver ? { receiver: receiver as LoginId } : {}) };
}
