import type { LoginHandle } from '../login-directory.js';
import type { ChatInfo } from '../network/chat-info.js';
import type { RemoteUserId } from '../network/ids.js';
import type { Portal } from './portal.js';
import type { PortalDeps } from './portal-deps.js';
import { bridgeInfo, portalPowerLevels } from './room-state.js';

/** Members whose ghosts join at creation; larger chats get the rest as they speak. */
const MAX_INITIAL_GHOSTS = 50;

/**
 * Makes sure the login takes part in the portal and the portal has a Matrix room. The room is
 * created on the portal's first event, from the client's ChatInfo: the bot creates it (power 100),
 * invites the login's Matrix user (`is_direct` for DMs) and the members' ghosts, which join.
 * Returns true when the room was created just now (the caller then backfills).
 * Runs on the portal's queue.
 */
export async function ensureRoom(deps: PortalDeps, portal: Portal, login: LoginHandle): Promise<boolean> {
  const newMember = await deps.userPortals.add(login.loginId, portal.key);
  if (portal.roomId) {
    if (newMember) await deps.matrix.bot.invite(portal.roomId, login.userMxid);
    return false;
  }
  const client = login.client();
  if (!client) throw new Error(`login ${login.loginId} has no live client`);
  await deps.portals.getOrCreate(portal.key); // the row may have gone with a deleted chat
  const info = await client.getChatInfo(portal.key.chatId);
  const bot = deps.matrix.bot;

  const memberIds = initialMembers(info).filter((id) => id !== login.remoteUserId);
  const ghostPower: Record<string, number> = {};
  const ghosts = [];
  for (const id of memberIds) {
    const intent = await deps.ghosts.ensure(id, client);
    ghosts.push(intent);
    const level = info.members?.find((m) => m.userId === id)?.powerLevel;
    if (level) ghostPower[intent.userId] = Math.min(level, 99);
  }
  const avatarMxc = info.avatar ? await bot.uploadStream(await info.avatar.open(), info.avatar.mimeType, 'avatar') : null;
  let name = info.name;
  // A DM is named after the other party, as clients name one-to-one rooms.
  if (!name && info.type === 'dm' && info.otherUserId) name = await deps.ghosts.displayName(info.otherUserId);

  const bridge = bridgeInfo({
    bridgeId: deps.bridgeId,
    networkId: deps.networkId,
    networkName: deps.networkName,
    botMxid: bot.userId,
    key: portal.key,
    info,
    avatarMxc,
  });
  const initialState: Record<string, unknown>[] = [
    { type: 'm.bridge', state_key: bridge.stateKey, content: bridge.content },
    { type: 'uk.half-shot.bridge', state_key: bridge.stateKey, content: bridge.content },
  ];
  if (avatarMxc) initialState.push({ type: 'm.room.avatar', state_key: '', content: { url: avatarMxc } });
  const roomId = await bot.createRoom({
    visibility: 'private',
    preset: 'private_chat',
    ...(name ? { name } : {}),
    ...(info.topic ? { topic: info.topic } : {}),
    is_direct: info.type === 'dm',
    invite: [login.userMxid, ...ghosts.map((g) => g.userId)],
    initial_state: initialState,
    power_level_content_override: portalPowerLevels(bot.userId, ghostPower),
  });
  // Stored before anything else can fail, so a retry never creates a second room for the chat.
  Object.assign(portal.record, {
    roomId,
    chatType: info.type,
    name: info.name ?? null,
    topic: info.topic ?? null,
    avatarId: info.avatar?.avatarId ?? null,
    avatarMxc,
    otherUserId: info.otherUserId ?? null,
  });
  await deps.portals.update(portal.record);
  portal.joined.add(bot.userId);
  for (const ghost of ghosts) {
    await ghost.join(roomId);
    portal.joined.add(ghost.userId);
  }
  deps.log.info({ roomId, chat: portal.key.chatId, type: info.type }, 'portal room created');
  return true;
}

function initialMembers(info: ChatInfo): RemoteUserId[] {
  if (info.type === 'dm') return info.otherUserId ? [info.otherUserId] : [];
  return (info.members ?? [])
    .filter((m) => m.membership === 'join')
    .slice(0, MAX_INITIAL_GHOSTS)
    .map((m) => m.userId);
}

/** Joins a ghost to the portal room (the bot invites it first: portal rooms are invite-only). */
export async function ensureJoined(deps: PortalDeps, portal: Portal, userId: string): Promise<void> {
  if (portal.joined.has(userId) || !portal.roomId) return;
  await deps.matrix.bot.invite(portal.roomId, userId);
  await deps.matrix.intent(userId).join(portal.roomId);
  portal.joined.add(userId);
}
