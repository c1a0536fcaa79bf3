import type { Intent } from '../matrix/intent.js';
import { txnIdFor } from '../portal/portal-deps.js';

/**
 * Tells the Matrix user a message finally could not be delivered, the two ways mautrix bridges
 * do: a `com.beeper.message_send_status` event referencing it (clients that know it mark the
 * message failed) and an `m.notice` reply every client shows.
 */
export async function sendFailureStatus(
  bot: Intent,
  opts: { roomId: string; eventId: string; network: string; code: string; message: string; retryable: boolean },
): Promise<void> {
  await bot.sendEvent(
    opts.roomId,
    'com.beeper.message_send_status',
    {
      network: opts.network,
      'm.relates_to': { rel_type: 'm.reference', event_id: opts.eventId },
      status: opts.retryable ? 'FAIL_RETRIABLE' : 'FAIL_PERMANENT',
      reason: 'm.foreign_network_error',
      error: opts.code,
      message: opts.message,
    },
    txnIdFor('status', opts.eventId),
  );
  await bot.sendEvent(
    opts.roomId,
    'm.room.message',
    {
      msgtype: 'm.notice',
      body: `⚠️ Your message was not bridged: ${opts.message}`,
      'm.relates_to': { 'm.in_reply_to': { event_id: opts.eventId } },
      'm.mentions': {},
    },
    txnIdFor('notice', opts.eventId),
  );
}
