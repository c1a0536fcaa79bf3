import type { Queryable } from '../../../homeserver/storage/db.js';
import type { PortalKey, RemoteMessageId, RemoteUserId } from '../network/ids.js';

/**
 * One Matrix event of a bridged message. A remote message that becomes several Matrix events
 * (a caption and a file) has one part each; the first part (`partId` '') is the one replies,
 * edits and reactions point at.
 */
export interface MessagePart {
  remoteId: RemoteMessageId;
  partId: string;
  eventId: string;
  roomId: string;
  senderRemoteId: RemoteUserId;
  senderMxid: string;
  timestamp: number;
  editCount: number;
  threadRootId: RemoteMessageId | null;
}

interface Row {
  remote_id: string;
  part_id: string;
  event_id: string;
  room_id: string;
  sender_remote_id: string;
  sender_mxid: string;
  timestamp: number;
  edit_count: number;
  thread_root_id: string | null;
}

const COLUMNS = 'remote_id, part_id, event_id, room_id, sender_remote_id, sender_mxid, timestamp, edit_count, thread_root_id';

const fromRow = (r: Row): MessagePart => ({
  remoteId: r.remote_id as RemoteMessageId,
  partId: r.part_id,
  eventId: r.event_id,
  roomId: r.room_id,
  senderRemoteId: r.sender_remote_id as RemoteUserId,
  senderMxid: r.sender_mxid,
  timestamp: r.timestamp,
  editCount: r.edit_count,
  threadRootId: r.thread_root_id as RemoteMessageId | null,
});

/** The `bridge_messages` table (remote id <-> Matrix event id, both ways), scoped by bridge id. */
export class MessageStore {
  constructor(
    private db: Queryable,
    readonly bridgeId: string,
  ) {}

  /** Every part of a remote message, first part first. */
  async getParts(key: PortalKey, remoteId: RemoteMessageId, q: Queryable = this.db): Promise<MessagePart[]> {
    const { rows } = await q.query<Row>(
      `SELECT ${COLUMNS} FROM bridge_messages WHERE bridge_id = $1 AND chat_id = $2 AND receiver = $3 AND remote_id = $4
       ORDER BY part_id`,
      [this.bridgeId, key.chatId, key.receiver ?? '', remoteId],
    );
    return rows.map(fromRow);
  }

  /** Which of these remote messages are already mapped (one query for a page of history). */
  async knownIds(key: PortalKey, remoteIds: RemoteMessageId[], q: Queryable = this.db): Promise<Set<string>> {
    const { rows } = await q.query<{ remote_id: string }>(
      `SELECT DISTINCT remote_id FROM bridge_messages WHERE bridge_id = $1 AND chat_id = $2 AND receiver = $3 AND remote_id = ANY($4)`,
      [this.bridgeId, key.chatId, key.receiver ?? '', remoteIds],
    );
    return new Set(rows.map((r) => r.remote_id));
  }

  /** The first part: what a reply, edit or reaction targets. */
  async getFirst(key: PortalKey, remoteId: RemoteMessageId, q: Queryable = this.db): Promise<MessagePart | undefined> {
    return (await this.getParts(key, remoteId, q))[0];
  }

  async getByEventId(eventId: string, q: Queryable = this.db): Promise<MessagePart | undefined> {
    const { rows } = await q.query<Row>(`SELECT ${COLUMNS} FROM bridge_messages WHERE bridge_id = $1 AND event_id = $2`, [
      this.bridgeId,
      eventId,
    ]);
    return rows[0] && fromRow(rows[0]);
  }

  /** Stores a part; false when that (message, part) was already mapped (a duplicate). */
  async insert(key: PortalKey, p: Omit<MessagePart, 'editCount'>, q: Queryable = this.db): Promise<boolean> {
    const { rowCount } = await q.query(
      `INSERT INTO bridge_messages (bridge_id, chat_id, receiver, remote_id, part_id, event_id, room_id, sender_remote_id,
         sender_mxid, timestamp, thread_root_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING`,
      [
        this.bridgeId,
        key.chatId,
        key.receiver ?? '',
        p.remoteId,
        p.partId,
        p.eventId,
        p.roomId,
        p.senderRemoteId,
        p.senderMxid,
        p.timestamp,
        p.threadRootId,
      ],
    );
    return (rowCount ?? 0) > 0;
  }

  async incrementEdits(key: PortalKey, remoteId: RemoteMessageId, q: Queryable = this.db): Promise<void> {
    await q.query(
      'UPDATE bridge_messages SET edit_count = edit_count + 1 WHERE bridge_id = $1 AND chat_id = $2 AND receiver = $3 AND remote_id = $4',
      [this.bridgeId, key.chatId, key.receiver ?? '', remoteId],
    );
  }

  async deleteMessage(key: PortalKey, remoteId: RemoteMessageId, q: Queryable = this.db): Promise<void> {
    await q.query('DELETE FROM bridge_messages WHERE bridge_id = $1 AND chat_id = $2 AND receiver = $3 AND remote_id = $4', [
      this.bridgeId,
      key.chatId,
      key.receiver ?? '',
      remoteId,
    ]);
  }

  async deletePortal(key: PortalKey, q: Queryable = this.db): Promise<void> {
    await q.query('DELETE FROM bridge_messages WHERE bridge_id = $1 AND chat_id = $2 AND receiver = $3', [
      this.bridgeId,
      key.chatId,
      key.receiver ?? '',
    ]);
  }

  /** The oldest mapped message of a portal: where backfill continues from. */
  async oldest(key: PortalKey, q: Queryable = this.db): Promise<MessagePart | undefined> {
    const { rows } = await q.query<Row>(
      `SELECT ${COLUMNS} FROM bridge_messages WHERE bridge_id = $1 AND chat_id = $2 AND receiver = $3
       ORDER BY timestamp, remote_id LIMIT 1`,
      [this.bridgeId, key.chatId, key.receiver ?? ''],
    );
    return rows[0] && fromRow(rows[0]);
  }
}
