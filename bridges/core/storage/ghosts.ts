import type { Queryable } from '../../../homeserver/storage/db.js';
import type { RemoteUserId } from '../network/ids.js';

/** A stored ghost: the Matrix user standing for one remote user, with the profile last pushed to Matrix. */
export interface GhostRecord {
  remoteUserId: RemoteUserId;
  mxid: string;
  name: string | null;
  avatarId: string | null;
  avatarMxc: string | null;
  identifiers: string[];
  isBot: boolean;
  nameSet: boolean;
  avatarSet: boolean;
  metadata: Record<string, unknown>;
}

interface Row {
  remote_user_id: string;
  mxid: string;
  name: string | null;
  avatar_id: string | null;
  avatar_mxc: string | null;
  identifiers: string[];
  is_bot: boolean;
  name_set: boolean;
  avatar_set: boolean;
  metadata: Record<string, unknown>;
}

const COLUMNS = 'remote_user_id, mxid, name, avatar_id, avatar_mxc, identifiers, is_bot, name_set, avatar_set, metadata';

const fromRow = (r: Row): GhostRecord => ({
  remoteUserId: r.remote_user_id as RemoteUserId,
  mxid: r.mxid,
  name: r.name,
  avatarId: r.avatar_id,
  avatarMxc: r.avatar_mxc,
  identifiers: r.identifiers,
  isBot: r.is_bot,
  nameSet: r.name_set,
  avatarSet: r.avatar_set,
  metadata: r.metadata,
});

const UNIQUE_VIOLATION = '23505';

/** The `bridge_ghosts` table, scoped by bridge id. */
export class GhostStore {
  constructor(
    private db: Queryable,
    readonly bridgeId: string,
  ) {}

  async get(remoteUserId: RemoteUserId, q: Queryable = this.db): Promise<GhostRecord | undefined> {
    const { rows } = await q.query<Row>(`SELECT ${COLUMNS} FROM bridge_ghosts WHERE bridge_id = $1 AND remote_user_id = $2`, [
      this.bridgeId,
      remoteUserId,
    ]);
    return rows[0] && fromRow(rows[0]);
  }

  async getByMxid(mxid: string, q: Queryable = this.db): Promise<GhostRecord | undefined> {
    const { rows } = await q.query<Row>(`SELECT ${COLUMNS} FROM bridge_ghosts WHERE bridge_id = $1 AND mxid = $2`, [this.bridgeId, mxid]);
    return rows[0] && fromRow(rows[0]);
  }

  /** Creates the row (profile not yet pushed) if missing and returns the stored one. */
  async getOrCreate(remoteUserId: RemoteUserId, mxid: string, q: Queryable = this.db): Promise<GhostRecord> {
    try {
      const { rows } = await q.query<Row>(
        `INSERT INTO bridge_ghosts (bridge_id, remote_user_id, mxid) VALUES ($1, $2, $3)
         ON CONFLICT (bridge_id, remote_user_id) DO UPDATE SET bridge_id = EXCLUDED.bridge_id
         RETURNING ${COLUMNS}`,
        [this.bridgeId, remoteUserId, mxid],
      );
      return fromRow(rows[0]!);
    } catch (err) {
      // Two portals creating the same ghost at once: ON CONFLICT only arbitrates the primary key,
      // so the loser of the race can trip the mxid index instead. The winner's row is the answer.
      const existing = (err as { code?: string }).code === UNIQUE_VIOLATION ? await this.get(remoteUserId, q) : undefined;
      if (!existing) throw err;
      return existing;
    }
  }

  async update(g: GhostRecord, q: Queryable = this.db): Promise<void> {
    await q.query(
      `UPDATE bridge_ghosts SET name = $3, avatar_id = $4, avatar_mxc = $5, identifiers = $6, is_bot = $7, name_set = $8,
         avatar_set = $9, metadata = $10
       WHERE bridge_id = $1 AND remote_user_id = $2`,
      [
        this.bridgeId,
        g.remoteUserId,
        g.name,
        g.avatarId,
        g.avatarMxc,
        g.identifiers,
        g.isBot,
        g.nameSet,
        g.avatarSet,
        JSON.stringify(g.metadata),
      ],
    );
  }
}
