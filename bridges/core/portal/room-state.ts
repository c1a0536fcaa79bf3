import type { ChatInfo } from '../network/chat-info.js';
import type { PortalKey } from '../network/ids.js';

/**
 * The `m.bridge` state (MSC2346; `uk.half-shot.bridge` is the older name clients still read):
 * which network and chat a portal room bridges. The state key names bridge and chat, so several
 * bridges may describe one room.
 */
export function bridgeInfo(opts: {
  bridgeId: string;
  networkId: string;
  networkName: string;
  botMxid: string;
  key: PortalKey;
  info: Pick<ChatInfo, 'name' | 'type'>;
  avatarMxc?: string | null;
}): { stateKey: string; content: Record<string, unknown> } {
  const channel: Record<string, unknown> = { id: opts.key.chatId };
  if (opts.info.name) channel.displayname = opts.info.name;
  if (opts.avatarMxc) channel.avatar_url = opts.avatarMxc;
  if (opts.key.receiver) channel.receiver = opts.key.receiver;
  return {
    stateKey: `causeway://${opts.bridgeId}/${encodeURIComponent(opts.key.chatId)}${opts.key.receiver ? `/${encodeURIComponent(opts.key.receiver)}` : ''}`,
    content: {
      bridgebot: opts.botMxid,
      creator: opts.botMxid,
      protocol: { id: opts.networkId, displayname: opts.networkName },
      channel,
      'com.beeper.room_type': opts.info.type === 'dm' ? 'dm' : undefined,
    },
  };
}

/** Power levels of a portal: the bot runs the room (100); remote admins keep their rank. */
export function portalPowerLevels(botMxid: string, ghosts: Record<string, number>): Record<string, unknown> {
  return {
    users: { ...ghosts, [botMxid]: 100 },
    users_default: 0,
    events_default: 0,
    state_default: 50,
    invite: 50,
    kick: 50,
    ban: 50,
    redact: 50,
    events: {
      'm.room.name': 50,
      'm.room.topic': 50,
      'm.room.avatar': 50,
      'm.room.power_levels': 100,
      'm.bridge': 100,
      'uk.half-shot.bridge': 100,
      'm.room.tombstone': 100,
      'm.room.encryption': 100,
    },
  };
}
