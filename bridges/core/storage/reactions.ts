import type { Queryable } from '../../../homeserver/storage/db.js';
import type { PortalKey, RemoteMessageId, RemoteReactionId, RemoteUserId } from '../network/ids.js';

/** A bridged reaction: one per (message, sender, key), as on most networks. */
export interface ReactionRecord {
  messageRemoteId: RemoteMessageId;
  senderRemoteId: RemoteUserId;
  key: string;
  reactionRemoteId: RemoteReactionId | null;
  eventId: string;
  timestamp: number;
}

interface Row {
  message_remote_id: string;
  sender_remote_id: string;
  key: string;
  reaction_remote_id: string | null;
  event_id: string;
  timestamp: number;
}

const COLUMNS = 'message_remote_id, sender_remote_id, key, reaction_remote_id, event_id, timestamp';

const fromRow = (r: Row): ReactionRecord => ({
  messageRemoteId: r.message_remote_id as RemoteMessageId,
  senderRemoteId: r.sender_remote_id as RemoteUserId,
  key: r.key,
  reactionRemoteId: r.reaction_remote_id as RemoteReactionId | null,
  eventId: r.event_id,
  timestamp: r.timestamp,
});

/** The `bridge_reactions` table, scoped by bridge id. */
export class ReactionStore {
  constructor(
    private db: Queryable,
    readonly bridgeId: string,
  ) {}

  async get(
    key: PortalKey,
    messageRemoteId: RemoteMessageId,
    senderRemoteId: RemoteUserId,
    emoji: string,
    q: Queryable = this.db,
  ): Promise<ReactionRecord | undefined> {
    const { rows } = await q.query<Row>(
      `SELECT ${COLUMNS} FROM bridge_reactions WHERE bridge_id = $1 AND chat_id = $2 AND receiver = $3
         AND message_remote_id = $4 AND sender_remote_id = $5 AND key = $6`,
      [this.bridgeId, key.chatId, key.receiver ?? '', messageRemoteId, senderRemoteId, emoji],
    );
    return rows[0] && fromRow(rows[0]);
  }

  async getByEventId(eventId: string, q: Queryable = this.db): Promise<ReactionRecord | undefined> {
    const { rows } = await q.query<Row>(`SELECT ${COLUMNS} FROM bridge_reactions WHERE bridge_id = $1 AND event_id = $2`, [
      this.bridgeId,
      eventId,
    ]);
    return rows[0] && fromRow(rows[0]);
  }

  /** False when this (message, sender, key) was already mapped. */
  async insert(key: PortalKey, r: ReactionRecord, q: Queryable = this.db): Promise<boolean> {
    const { rowCount } = await q.query(
      `INSERT INTO bridge_reactions (bridge_id, chat_id, receiver, message_remote_id, sender_remote_id, key, reaction_remote_id,
         event_id, timestamp)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
      [
        this.bridgeId,
        key.chatId,
        key.receiver ?? '',
        r.messageRemoteId,
        r.senderRemoteId,
        r.key,
        r.reactionRemoteId,
        r.eventId,
        r.timestamp,
      ],
    );
    return (rowCount ?? 0) > 0;
  }

  async delete(key: PortalKey, r: Pick<ReactionRecord, 'messageRemoteId' | 'senderRemoteId' | 'key'>, q: Queryable = this.db) {
    await q.query(
      `DELETE FROM bridge_reactions WHERE bridge_id = $1 AND chat_id = $2 AND receiver = $3
         AND message_remote_id = $4 AND sender_remote_id = $5 AND key = $6`,
      [this.bridgeId, key.chatId, key.receiver ?? '', r.messageRemoteId, r.senderRemoteId, r.key],
    );
  }

  async deletePortal(key: PortalKey, q: Queryable = this.db): Promise<void> {
    await q.query('DELETE FROM bridge_reactions WHERE bridge_id = $1 AND chat_id = $2 AND receiver = $3', [
      this.bridgeId,
      key.chatId,
      key.receiver ?? '',
    ]);
  }
}
