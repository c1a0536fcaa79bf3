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

/**
 * A row as stored: `removedTs` is set when the network removed the reaction. The row then stays
 * (a tombstone) so a replayed, older copy of the reaction is recognised and not shown again.
 */
export interface StoredReaction extends ReactionRecord {
  removedTs: number | null;
}

interface Row {
  message_remote_id: string;
  sender_remote_id: string;
  key: string;
  reaction_remote_id: string | null;
  event_id: string;
  timestamp: number;
  removed_ts: number | null;
}

const COLUMNS = 'message_remote_id, sender_remote_id, key, reaction_remote_id, event_id, timestamp, removed_ts';
/** Reactions currently shown (not tombstones). */
const LIVE = 'removed_ts IS NULL';
/** One (message, sender, key) of a portal; parameters $1-$6 from `ReactionStore.oneParams`. */
const ONE = 'bridge_id = $1 AND chat_id = $2 AND receiver = $3 AND message_remote_id = $4 AND sender_remote_id = $5 AND key = $6';

const fromRow = (r: Row): StoredReaction => ({
  messageRemoteId: r.message_remote_id as RemoteMessageId,
  senderRemoteId: r.sender_remote_id as RemoteUserId,
  key: r.key,
  reactionRemoteId: r.reaction_remote_id as RemoteReactionId | null,
  eventId: r.event_id,
  timestamp: r.timestamp,
  removedTs: r.removed_ts,
});

/** The `bridge_reactions` table, scoped by bridge id. */
export class ReactionStore {
  constructor(
    private db: Queryable,
    readonly bridgeId: string,
  ) {}

  private oneParams(key: PortalKey, messageRemoteId: RemoteMessageId, senderRemoteId: RemoteUserId, emoji: string) {
    return [this.bridgeId, key.chatId, key.receiver ?? '', messageRemoteId, senderRemoteId, emoji];
  }

  /** The reaction shown now, if any. */
  async get(
    key: PortalKey,
    messageRemoteId: RemoteMessageId,
    senderRemoteId: RemoteUserId,
    emoji: string,
    q: Queryable = this.db,
  ): Promise<StoredReaction | undefined> {
    const r = await this.getWithTombstone(key, messageRemoteId, senderRemoteId, emoji, q);
    return r && r.removedTs === null ? r : undefined;
  }

  /** The row whether shown or removed (remote replays compare against the removal time). */
  async getWithTombstone(
    key: PortalKey,
    messageRemoteId: RemoteMessageId,
    senderRemoteId: RemoteUserId,
    emoji: string,
    q: Queryable = this.db,
  ): Promise<StoredReaction | undefined> {
    const { rows } = await q.query<Row>(
      `SELECT ${COLUMNS} FROM bridge_reactions WHERE ${ONE}`,
      this.oneParams(key, messageRemoteId, senderRemoteId, emoji),
    );
    return rows[0] && fromRow(rows[0]);
  }

  async getByEventId(eventId: string, q: Queryable = this.db): Promise<StoredReaction | undefined> {
    const { rows } = await q.query<Row>(`SELECT ${COLUMNS} FROM bridge_reactions WHERE bridge_id = $1 AND event_id = $2 AND ${LIVE}`, [
      this.bridgeId,
      eventId,
    ]);
    return rows[0] && fromRow(rows[0]);
  }

  /** False when this (message, sender, key) is already shown; a tombstone is replaced. */
  async insert(key: PortalKey, r: ReactionRecord, q: Queryable = this.db): Promise<boolean> {
    const { rowCount } = await q.query(
      `INSERT INTO bridge_reactions (bridge_id, chat_id, receiver, message_remote_id, sender_remote_id, key, reaction_remote_id,
         event_id, timestamp)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (bridge_id, chat_id, receiver, message_remote_id, sender_remote_id, key) DO UPDATE
         SET reaction_remote_id = EXCLUDED.reaction_remote_id, event_id = EXCLUDED.event_id, timestamp = EXCLUDED.timestamp,
             removed_ts = NULL
         WHERE bridge_reactions.removed_ts IS NOT NULL`,
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

  /** Forgets the reaction (removed from Matrix: the network's copy is gone too, nothing to replay). */
  async delete(key: PortalKey, r: Pick<ReactionRecord, 'messageRemoteId' | 'senderRemoteId' | 'key'>, q: Queryable = this.db) {
    await q.query(`DELETE FROM bridge_reactions WHERE ${ONE}`, this.oneParams(key, r.messageRemoteId, r.senderRemoteId, r.key));
  }

  /** The network removed the reaction at `removedTs`: the row becomes a tombstone. */
  async markRemoved(
    key: PortalKey,
    r: Pick<ReactionRecord, 'messageRemoteId' | 'senderRemoteId' | 'key'>,
    removedTs: number,
    q: Queryable = this.db,
  ): Promise<void> {
    await q.query(`UPDATE bridge_reactions SET removed_ts = $7 WHERE ${ONE}`, [
      ...this.oneParams(key, r.messageRemoteId, r.senderRemoteId, r.key),
      removedTs,
    ]);
  }

  async deletePortal(key: PortalKey, q: Queryable = this.db): Promise<void> {
    await q.query('DELETE FROM bridge_reactions WHERE bridge_id = $1 AND chat_id = $2 AND receiver = $3', [
      this.bridgeId,
      key.chatId,
      key.receiver ?? '',
    ]);
  }
}
