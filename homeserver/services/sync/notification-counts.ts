import type { Pdu } from '../../matrix/pdu.js';
import { userLevel } from '../../matrix/power-levels.js';
import type { RoomState } from '../rooms/room-state.js';

/** One unread event as sync reads it. */
export interface UnreadEvent {
  json: string;
}

/** What the push rule engine decides for one event and one recipient (the user-data service supplies it). */
export type NotificationDecider = (
  event: Pdu,
  ctx: {
    userId: string;
    displayName: string | null;
    roomMemberCount: number;
    senderPowerLevel: number;
    notificationLevels?: Record<string, unknown>;
  },
) => { notify: boolean; highlight: boolean };

/**
 * The room's `unread_notifications`: the events after the user's read receipt that the user's push
 * rules say notify (and highlight), as the spec's "Receiving notifications" describes. Counting is
 * capped by how many unread events the caller loaded (sync loads at most 100 per room).
 */
export function countNotifications(userId: string, room: RoomState, events: UnreadEvent[], decide: NotificationDecider) {
  let joined = 0;
  for (const { pdu } of room.state.values()) if (pdu.type === 'm.room.member' && pdu.content.membership === 'join') joined++;
  const pl = room.get('m.room.power_levels', '')?.content;
  const create = room.get('m.room.create', '');
  const displayName = (room.get('m.room.member', userId)?.content.displayname as string | undefined) ?? null;
  let notification_count = 0;
  let highlight_count = 0;
  for (const e of events) {
    const pdu = JSON.parse(e.json) as Pdu;
    const result = decide(pdu, {
      userId,
      displayName,
      roomMemberCount: joined,
      senderPowerLevel: userLevel(pl, pdu.sender, create),
      notificationLevels: pl?.notifications as Record<string, unknown> | undefined,
    });
    if (result.notify) notification_count++;
    if (result.highlight) highlight_count++;
  }
  return { notification_count, highlight_count };
}
