import type { Queryable } from '../../../homeserver/storage/db.js';
import type { LoginId, PortalKey, RemoteChatId, RemoteUserId } from '../network/ids.js';

/** A stored portal (bridgev2 Portal row): one Matrix room per remote chat (per receiver for DMs). */
export interface PortalRecord {
  chatId: RemoteChatId;
  /** '' for portals shared by every login. */
  receiver: LoginId | '';
  roomId: string | null;
  chatType: 'dm' | 'group' | 'channel';
  name: string | null;
  topic: string | null;
  avatarId: string | null;
  avatarMxc: string | null;
  otherUserId: RemoteUserId | null;
  metadata: Record<string, unknown>;
  createdTs: number;
}

interface Row {
  chat_id: string;
  receiver: string;
  room_id: string | null;
  chat_type: string;
  name: string | null;
  topic: string | null;
  avatar_id: string | null;
  avatar_mxc: string | null;
  other_user_id: string | null;
  metadata: Record<string, unknown>;
  created_ts: number;
}

const COLUMNS = 'chat_id, receiver, room_id, chat_type, name, topic, avatar_id, avatar_mxc, other_user_id, metadata, created_ts';

const fromRow = (r: Row): PortalRecord => ({
  chatId: r.chat_id as RemoteChatId,
  receiver: r.receiver as LoginId | '',
  roomId: r.room_id,
  chatType: r.chat_type as PortalRecord['chatType'],
  name: r.name,
  topic: r.topic,
  avatarId: r.avatar_id,
  avatarMxc: r.avatar_mxc,
  otherUserId: r.other_user_id as RemoteUserId | null,
  metadata: r.metadata,
  createdTs: r.created_ts,
});

/** The `bridge_portals` table, scoped by bridge id. */
export class PortalStore {
  constructor(
    private db: Queryable,
    readonly bridgeId: string,
  ) {}

  async get(key: PortalKey, q: Queryable = this.db): Promise<PortalRecord | undefined> {
    const { rows } = await q.query<Row>(`SELECT ${COLUMNS} FROM bridge_portals WHERE bridge_id = $1 AND chat_id = $2 AND receiver = $3`, [
      this.bridgeId,
      key.chatId,
      key.receiver ?? '',
    ]);
    return rows[0] && fromRow(rows[0]);
  }

  async getByRoom(roomId: string, q: Queryable = this.db): Promise<PortalRecord | undefined> {
    const { rows } = await q.query<Row>(`SELECT ${COLUMNS} FROM bridge_portals WHERE bridge_id = $1 AND room_id = $2`, [
      this.bridgeId,
      roomId,
    ]);
    return rows[0] && fromRow(rows[0]);
  }

  /** Creates the row if missing (no room yet) and returns the stored one. */
  async getOrCreate(key: PortalKey, q: Queryable = this.db): Promise<PortalRecord> {
    const { rows } = await q.query<Row>(
      `INSERT INTO bridge_portals (bridge_id, chat_id, receiver, created_ts) VALUES ($1, $2, $3, $4)
       ON CONFLICT (bridge_id, chat_id, receiver) DO UPDATE SET bridge_id = EXCLUDED.bridge_id
       RETURNING ${COLUMNS}`,
      [this.bridgeId, key.chatId, key.receiver ?? '', Date.now()],
    );
    return fromRow(rows[0]!);
  }

  /** Writes every mutable column of the record. */
  async update(p: PortalRecord, q: Queryable = this.db): Promise<void> {
    await q.query(
      `UPDATE bridge_portals SET room_id = $4, chat_type = $5, name = $6, topic = $7, avatar_id = $8, avatar_mxc = $9,
         other_user_id = $10, metadata = $11
       WHERE bridge_id = $1 AND chat_id = $2 AND receiver = $3`,
      [
        this.bridgeId,
        p.chatId,
        p.receiver,
        p.roomId,
        p.chatType,
        p.name,
        p.topic,
        p.avatarId,
        p.avatarMxc,
        p.otherUserId,
        JSON.stringify(p.metadata),
      ],
    );
  }

  async delete(key: PortalKey, q: Queryable = this.db): Promise<void> {
    await q.query('DELETE FROM bridge_portals WHERE bridge_id = $1 AND chat_id = $2 AND receiver = $3', [
      this.bridgeId,
      key.chatId,
      key.receiver ?? '',
    ]);
  }

  /** Portals received by one login (DMs and per-login chats), e.g. to clean up after logout. */
  async listForReceiver(receiver: LoginId, q: Queryable = this.db): Promise<PortalRecord[]> {
    const { rows } = await q.query<Row>(`SELECT ${COLUMNS} FROM bridge_portals WHERE bridge_id = $1 AND receiver = $2`, [
      this.bridgeId,
      receiver,
    ]);
    return rows.map(fromRow);
  }
}
