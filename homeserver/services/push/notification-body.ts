import type { Pdu } from '../../matrix/pdu.js';
import type { PushEvaluation } from '../user-data/index.js';
import type { StoredPusher } from './pushers.js';

/** What the push needs besides the event: the badge and the names a phone shows. */
export interface NotificationExtras {
  /** counts.unread: rooms with unread notifications (Notifications.unreadRooms). */
  unread: number;
  senderDisplayName?: string;
  roomName?: string;
}

/**
 * The body of `POST /_matrix/push/v1/notify` (spec: Push Gateway API) for one pusher, shaped as
 * Synapse's HTTP pusher shapes it:
 * - `prio` is high when the event highlights, makes a sound, or is encrypted (its content, and so
 *   whether it would, is unknown to the server: phones must wake up to decrypt it), low otherwise;
 * - `data.format: "event_id_only"` sends only event_id, room_id, prio, counts and devices, for
 *   apps that fetch the event themselves (most encrypted-first clients);
 * - `devices[].data` is the pusher's data without `url` (spec: forwarded as is, custom keys
 *   included), `pushkey_ts` is in seconds as Synapse sends it, `tweaks` only when the rule set any;
 * - `counts` carries `unread` only: missed calls are not tracked (Synapse sends none either).
 */
/** The device entry of a body: the pusher's data without `url`, `pushkey_ts` in seconds. */
function deviceOf(pusher: StoredPusher) {
  const data = { ...pusher.data };
  delete data.url;
  return { app_id: pusher.app_id, pushkey: pusher.pushkey, pushkey_ts: Math.floor(pusher.pushkey_ts / 1000), data };
}

/** A badge-only notification (no event): what a phone needs to update its app badge after a read. */
export function badgeBody(pusher: StoredPusher, unread: number) {
  return { notification: { counts: { unread }, devices: [deviceOf(pusher)] } };
}

export function notificationBody(pusher: StoredPusher, pdu: Pdu, eventId: string, evaluation: PushEvaluation, extras: NotificationExtras) {
  const tweaks = evaluation.tweaks;
  const high = evaluation.highlight || tweaks.sound !== undefined || pdu.type === 'm.room.encrypted';
  const device = { ...deviceOf(pusher), ...(Object.keys(tweaks).length ? { tweaks } : {}) };
  const common = {
    event_id: eventId,
    room_id: pdu.room_id,
    prio: high ? 'high' : 'low',
    counts: { unread: extras.unread },
    devices: [device],
  };
  if (pusher.data.format === 'event_id_only') return { notification: common };
  const member = pdu.type === 'm.room.member' && pdu.state_key !== undefined;
  return {
    notification: {
      ...common,
      type: pdu.type,
      sender: pdu.sender,
      ...(extras.senderDisplayName ? { sender_display_name: extras.senderDisplayName } : {}),
      ...(extras.roomName ? { room_name: extras.roomName } : {}),
      ...(member ? { membership: pdu.content.membership, user_is_target: pdu.state_key === pusher.user_id } : {}),
      content: pdu.content,
    },
  };
}
