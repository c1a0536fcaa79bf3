import { MatrixError } from '../../matrix/errors.js';
import type { Logger } from '../../runtime/logger.js';
import type { PubSub } from '../../runtime/ports.js';
import type { Db } from '../../storage/db.js';
import type { Requester } from '../requester.js';
import { STREAM_TOPIC, type StreamSource, type StreamWakeUp } from '../sync/stream-source.js';
import { advanceStreamHead, checkId, isUserId, lockStreamHead, streamHead } from './common.js';

export interface ToDeviceEvent {
  sender: string;
  type: string;
  content: Record<string, unknown>;
}

/** The `to_device` section of /sync. */
export interface ToDeviceSection {
  events: ToDeviceEvent[];
}

/** At most this many to-device messages per sync response (the rest follow in the next ones). */
export const TO_DEVICE_SYNC_LIMIT = 100;

/** user id -> device id (or `*`) -> content. */
export type ToDeviceMessages = Record<string, Record<string, Record<string, unknown>>>;

export interface ToDeviceRead {
  section: ToDeviceSection | undefined;
  /**
   * The to_device position to put in next_batch: `to`, or the last delivered message's position
   * when more than the limit were pending (so the rest are neither skipped nor acknowledged).
   */
  position: number;
}

export type ToDeviceStream = StreamSource<ToDeviceSection> & {
  /** sectionFor plus the position next_batch must carry; sync must use this one (see ToDeviceRead). */
  read(userId: string, deviceId: string | undefined, from: number, to: number): Promise<ToDeviceRead>;
};

/** Send-to-device messaging: an inbox per device, emptied as the device acknowledges by syncing past. */
export class ToDevice {
  constructor(
    private db: Db,
    private pubsub: PubSub,
    private log: Logger,
    private serverName: string,
  ) {}

  /**
   * PUT /sendToDevice: idempotent per (sender, device, txnId). Messages to unknown local users or
   * devices are dropped (the spec gives no error for them); remote users are not reachable yet
   * (no federation) and are dropped too.
   */
  async send(requester: Requester, type: string, txnId: string, messages: ToDeviceMessages): Promise<void> {
    checkId(type, 'Event type');
    checkId(txnId, 'Transaction ID');
    const users: string[] = [];
    const devices: string[] = [];
    const contents: string[] = [];
    for (const [userId, byDevice] of Object.entries(messages)) {
      if (!isUserId(userId)) throw MatrixError.invalidParam(`Invalid user ID '${userId.slice(0, 100)}'`);
      if (!userId.endsWith(`:${this.serverName}`)) continue;
      for (const [deviceId, content] of Object.entries(byDevice)) {
        checkId(deviceId, 'Device ID');
        users.push(userId);
        devices.push(deviceId);
        contents.push(JSON.stringify(content));
      }
    }

    const attempt = () =>
      this.db.withTransaction(async (tx) => {
        const txn = await tx.query(
          'INSERT INTO hs_e2e_to_device_txns (user_id, device_id, txn_id, created_ts) VALUES ($1,$2,$3,$4) ON CONFLICT DO NOTHING',
          [requester.userId, requester.deviceId ?? '', txnId, Date.now()],
        );
        if (txn.rowCount === 0 || !users.length) return; // a retried transaction, or nobody to deliver to
        await lockStreamHead(tx, 'to_device');
        const { rows } = await tx.query<{ position: number; user_id: string }>(
          `INSERT INTO hs_e2e_device_inbox (user_id, device_id, sender, type, content, ts)
           SELECT d.user_id, d.device_id, $4, $5, m.content, $6
           FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS m(user_id, device_id, content, ord)
           JOIN hs_devices d ON d.user_id = m.user_id AND (m.device_id = '*' OR d.device_id = m.device_id)
           ORDER BY m.ord, d.device_id
           RETURNING position, user_id`,
          [users, devices, contents, requester.userId, type, Date.now()],
        );
        if (!rows.length) return;
        const position = Math.max(...rows.map((r) => r.position));
        await advanceStreamHead(tx, 'to_device', position);
        const wake: StreamWakeUp = { stream: 'to_device', position, userIds: [...new Set(rows.map((r) => r.user_id))] };
        tx.afterCommit(() => {
          this.pubsub.publish(STREAM_TOPIC, wake).catch((err) => this.log.warn({ err }, 'to-device wake-up failed'));
        });
      });
    try {
      await attempt();
    } catch (err) {
      // A recipient device deleted between our snapshot and the insert (foreign key): retry once
      // on a fresh snapshot, which no longer sees it.
      if ((err as { code?: string }).code !== '23503') throw err;
      await attempt();
    }
  }

  /** The device has seen everything up to `upTo`: delete those messages. */
  async ack(userId: string, deviceId: string, upTo: number): Promise<void> {
    if (upTo <= 0) return;
    await this.db.query('DELETE FROM hs_e2e_device_inbox WHERE user_id = $1 AND device_id = $2 AND position <= $3', [
      userId,
      deviceId,
      upTo,
    ]);
  }

  /** Pending messages in (from, to], oldest first, at most `limit`. */
  async read(userId: string, deviceId: string | undefined, from: number, to: number, limit = TO_DEVICE_SYNC_LIMIT): Promise<ToDeviceRead> {
    if (!deviceId || to <= from) return { section: undefined, position: to };
    const { rows } = await this.db.query<{ position: number; sender: string; type: string; content: string }>(
      `SELECT position, sender, type, content FROM hs_e2e_device_inbox
       WHERE user_id = $1 AND device_id = $2 AND position > $3 AND position <= $4
       ORDER BY position LIMIT $5`,
      [userId, deviceId, from, to, limit + 1],
    );
    if (!rows.length) return { section: undefined, position: to };
    const limited = rows.length > limit;
    const delivered = limited ? rows.slice(0, limit) : rows;
    return {
      section: { events: delivered.map((r) => ({ sender: r.sender, type: r.type, content: JSON.parse(r.content) })) },
      position: limited ? delivered[delivered.length - 1]!.position : to,
    };
  }

  currentPosition(): Promise<number> {
    return streamHead(this.db, 'to_device');
  }

  /**
   * The `to_device` stream. Reading also acknowledges everything up to `from` (the client synced
   * past it), so calling ackToDevice separately is optional. Sync must take next_batch's
   * to_device position from `read(...).position`: when more than TO_DEVICE_SYNC_LIMIT messages
   * are pending, `to` would acknowledge messages not delivered yet.
   */
  readonly stream: ToDeviceStream = {
    name: 'to_device',
    currentPosition: () => this.currentPosition(),
    read: async (userId, deviceId, from, to) => {
      if (deviceId && from > 0) await this.ack(userId, deviceId, from);
      return this.read(userId, deviceId, from, to);
    },
    sectionFor: async (userId, deviceId, from, to) => (await this.stream.read(userId, deviceId, from, to)).section,
  };
}
