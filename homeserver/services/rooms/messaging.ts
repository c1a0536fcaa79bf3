import { MatrixError } from '../../matrix/errors.js';
import { parseEventId, parseRoomId } from '../../matrix/ids.js';
import { userLevel, membershipActionLevel } from '../../matrix/power-levels.js';
import type { Requester } from '../requester.js';
import type { EventDraft } from './event-builder.js';
import type { RoomsContext } from './rooms-context.js';

/**
 * Sending message and state events and redactions. Sends with a transaction id are idempotent per
 * (user, device, txnId): a retry returns the first event's id, even while the first is in flight.
 */
export class Messaging {
  private inFlight = new Map<string, Promise<string>>();

  constructor(private ctx: RoomsContext) {}

  async send(
    requester: Requester,
    roomId: string,
    type: string,
    content: Record<string, unknown>,
    txnId: string,
    ts?: number,
  ): Promise<string> {
    return this.once(requester, txnId, () =>
      this.submit(roomId, { type, content, sender: requester.userId, txn: this.txn(requester, txnId), origin_server_ts: ts }),
    );
  }

  async setState(requester: Requester, roomId: string, type: string, stateKey: string, content: Record<string, unknown>, ts?: number) {
    return this.submit(roomId, { type, state_key: stateKey, content, sender: requester.userId, origin_server_ts: ts });
  }

  async redact(requester: Requester, roomIdText: string, eventIdText: string, reason: string | undefined, txnId: string): Promise<string> {
    const roomId = parseRoomId(roomIdText);
    const target = parseEventId(eventIdText);
    return this.once(requester, txnId, async () => {
      const row = await this.ctx.store.getEvent(target);
      const pdu = row && (JSON.parse(row.json) as { room_id: string; sender: string });
      if (!pdu || pdu.room_id !== roomId) throw MatrixError.notFound('Event not found');
      // Redacting someone else's event needs the room's redact level (spec: m.room.redaction auth).
      if (pdu.sender !== requester.userId) {
        const room = await this.ctx.cache.get(roomId);
        const pl = room?.get('m.room.power_levels', '')?.content;
        const create = room?.get('m.room.create', '');
        if (!room || !create || userLevel(pl, requester.userId, create) < membershipActionLevel(pl, 'redact'))
          throw MatrixError.forbidden('You may not redact events sent by other users');
      }
      const content: Record<string, unknown> = reason !== undefined ? { reason } : {};
      return this.submit(roomId, {
        type: 'm.room.redaction',
        redacts: target,
        content,
        sender: requester.userId,
        txn: this.txn(requester, txnId),
      });
    });
  }

  private txn(requester: Requester, txnId: string) {
    return { deviceId: requester.deviceId ?? '', txnId };
  }

  private async submit(roomIdText: string, draft: EventDraft): Promise<string> {
    const roomId = parseRoomId(roomIdText);
    const [event] = await this.ctx.input.submit(roomId, [draft]);
    return event!.eventId;
  }

  private once(requester: Requester, txnId: string, send: () => Promise<string>): Promise<string> {
    const key = `${requester.userId}\u0000${requester.deviceId ?? ''}\u0000${txnId}`;
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    // Registered before the first await, so a concurrent retry joins this request instead of racing it.
    // A retry of a committed transaction is recognised in the commit statement itself (the event
    // committer reports it as a duplicate with the first event's id): no lookup round trip per send.
    // Only when the retry is refused before reaching the commit (the sender has left the room since,
    // say) is the transaction looked up, so a retry still answers with the first event's id.
    const promise = send()
      .catch(async (err: unknown) => {
        const existing = await this.ctx.store.eventIdForTxn(requester.userId, requester.deviceId ?? '', txnId);
        if (existing === undefined) throw err;
        return existing;
      })
      .finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, promise);
    return promise;
  }
}
