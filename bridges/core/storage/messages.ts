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
  /** Network time of the last remote edit applied (0: none); an edit not newer is a replay. */
  lastEditTs: number;
  /** Set once the message was deleted: the row stays as a tombstone so a replayed message is not bridged again. */
  deletedTs: number | null;
}

/** What a new mapping needs (edits and deletion come later). */
export type NewMessagePart = Omit<MessagePart, 'editCount' | 'lastEditTs' | 'deletedTs'>;

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
  last_edit_ts: number;
  deleted_ts: number | null;
}

const COLUMNS =
  'remote_id, part_id, event_id, room_id, sender_remote_id, sender_mxid, timestamp, edit_count, thread_root_id, last_edit_ts, deleted_ts';
/** Rows of messages that still exist (not tombstones). */
const LIVE = 'deleted_ts IS NULL';

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
  lastEditTs: r.last_edit_ts,
  deletedTs: r.deleted_ts,
});

/** The `bridge_messages` table (remote id <-> Matrix event id, both ways), scoped by bridge id. */
export class MessageStore {
  constructor(
    private db: Queryable,
    readonly bridgeId: string,
  ) {}

  /** Every part of a remote message that still exists, first part first (none once it was deleted). */
  async getParts(key: PortalKey, remoteId: RemoteMessageId, q: Queryable = this.db): Promise<MessagePart[]> {
    const { rows } = await q.query<Row>(
      `SELECT ${COLUMNS} FROM bridge_messages WHERE bridge_id = $1 AND chat_id = $2 AND receiver = $3 AND remote_id = $4
         AND ${LIVE} ORDER BY part_id`,
      [this.bridgeId, key.chatId, key.receiver ?? '', remoteId],
    );
    return rows.map(fromRow);
  }

  /** Which of these remote messages were ever bridged, deleted ones included (one query for a page of history). */
  async knownIds(key: PortalKey, remoteIds: RemoteMessageId[], q: Queryable = this.db): Promise<Set<string>> {
    const { rows } = await q.query<{ remote_id: string }>(
      `SELECT DISTINCT remote_id FROM bridge_messages WHERE bridge_id = $1 AND chat_id = $2 AND receiver = $3 AND remote_id = ANY($4)`,
      [this.bridgeId, key.chatId, key.receiver ?? '', remoteIds],
    );
    return new Set(rows.map((r) => r.remote_id));
  }

  /** Whether the remote message was ever bridged (a tombstone counts: it must not come back). */
  async isKnown(key: PortalKey, remoteId: RemoteMessageId, q: Queryable = this.db): Promise<boolean> {
    return (await this.knownIds(key, [remoteId], q)).size > 0;
  }

  /** The first part of a message that still exists: what a reply, edit or reaction targets. */
  async getFirst(key: PortalKey, remoteId: RemoteMessageId, q: Queryable = this.db): Promise<MessagePart | undefined> {
    return (await this.getParts(key, remoteId, q))[0];
  }

  /** Tombstones included (`deletedTs` set): an outbox retry of a sent message must still find it. */
  async getByEventId(eventId: string, q: Queryable = this.db): Promise<MessagePart | undefined> {
    const { rows } = await q.query<Row>(`SELECT ${COLUMNS} FROM bridge_messages WHERE bridge_id = $1 AND event_id = $2`, [
      this.bridgeId,
      eventId,
    ]);
    return rows[0] && fromRow(rows[0]);
  }

  /** Stores a part; false when that (message, part) was already mapped (a duplicate). */
  async insert(key: PortalKey, p: NewMessagePart, q: Queryable = this.db): Promise<boolean> {
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

  /**
   * Records a remote edit applied at network time `editTs`. False when an edit at least as new was
   * already recorded (a replay, or a second login of a shared portal reporting the same edit).
   */
  async recordRemoteEdit(key: PortalKey, remoteId: RemoteMessageId, editTs: number, q: Queryable = this.db): Promise<boolean> {
    const { rowCount } = await q.query(
      `UPDATE bridge_messages SET edit_count = edit_count + 1, last_edit_ts = $5
       WHERE bridge_id = $1 AND chat_id = $2 AND receiver = $3 AND remote_id = $4 AND last_edit_ts < $5`,
      [this.bridgeId, key.chatId, key.receiver ?? '', remoteId, editTs],
    );
    return (rowCount ?? 0) > 0;
  }

  /** Marks the message deleted; its rows stay as a tombstone (see isKnown). */
  async deleteMessage(key: PortalKey, remoteId: RemoteMessageId, deletedTs = Date.now(), q: Queryable = this.db): Promise<void> {
    await q.query(
      `UPDATE bridge_messages SET deleted_ts = $5
       WHERE bridge_id = $1 AND chat_id = $2 AND receiver = $3 AND remote_id = $4 AND ${LIVE}`,
      [this.bridgeId, key.chatId, key.receiver ?? '', remoteId, deletedTs],
    );
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
