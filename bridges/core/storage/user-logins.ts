import type { Queryable } from '../../../homeserver/storage/db.js';
import type { BridgeState, BridgeStateEvent } from '../network/bridge-state.js';
import type { LoginId } from '../network/ids.js';

/** A stored login (bridgev2 UserLogin): several per Matrix user, one row per network account. */
export interface UserLoginRecord {
  bridgeId: string;
  loginId: LoginId;
  userMxid: string;
  remoteName: string;
  metadata: Record<string, unknown>;
  state: BridgeState;
  createdTs: number;
}

interface Row {
  bridge_id: string;
  login_id: string;
  user_mxid: string;
  remote_name: string;
  metadata: Record<string, unknown>;
  state: string;
  state_error: string | null;
  state_message: string | null;
  state_info: Record<string, unknown> | null;
  state_ts: number;
  created_ts: number;
}

const COLUMNS =
  'bridge_id, login_id, user_mxid, remote_name, metadata, state, state_error, state_message, state_info, state_ts, created_ts';

function fromRow(r: Row): UserLoginRecord {
  return {
    bridgeId: r.bridge_id,
    loginId: r.login_id as LoginId,
    userMxid: r.user_mxid,
    remoteName: r.remote_name,
    metadata: r.metadata,
    state: {
      stateEvent: r.state as BridgeStateEvent,
      error: r.state_error ?? undefined,
      message: r.state_message ?? undefined,
      info: r.state_info ?? undefined,
      timestamp: Math.floor(r.state_ts / 1000),
    },
    createdTs: r.created_ts,
  };
}

/** The `bridge_user_logins` table. Every query is scoped by bridge id. */
export class UserLoginStore {
  constructor(
    private db: Queryable,
    readonly bridgeId: string,
  ) {}

  /** Creates or replaces a login (logging in again with the same account keeps its portals). */
  async upsert(
    login: { loginId: LoginId; userMxid: string; remoteName: string; metadata: Record<string, unknown> },
    q: Queryable = this.db,
  ) {
    const now = Date.now();
    const { rows } = await q.query<Row>(
      `INSERT INTO bridge_user_logins (bridge_id, login_id, user_mxid, remote_name, metadata, state, state_ts, created_ts)
       VALUES ($1, $2, $3, $4, $5, 'CONNECTING', $6, $6)
       ON CONFLICT (bridge_id, login_id) DO UPDATE
         SET user_mxid = EXCLUDED.user_mxid, remote_name = EXCLUDED.remote_name, metadata = EXCLUDED.metadata,
             state = 'CONNECTING', state_error = NULL, state_message = NULL, state_info = NULL, state_ts = EXCLUDED.state_ts
       RETURNING ${COLUMNS}`,
      [this.bridgeId, login.loginId, login.userMxid, login.remoteName, JSON.stringify(login.metadata), now],
    );
    return fromRow(rows[0]!);
  }

  async get(loginId: LoginId, q: Queryable = this.db): Promise<UserLoginRecord | undefined> {
    const { rows } = await q.query<Row>(`SELECT ${COLUMNS} FROM bridge_user_logins WHERE bridge_id = $1 AND login_id = $2`, [
      this.bridgeId,
      loginId,
    ]);
    return rows[0] && fromRow(rows[0]);
  }

  async listForUser(userMxid: string, q: Queryable = this.db): Promise<UserLoginRecord[]> {
    const { rows } = await q.query<Row>(
      `SELECT ${COLUMNS} FROM bridge_user_logins WHERE bridge_id = $1 AND user_mxid = $2 ORDER BY created_ts, login_id`,
      [this.bridgeId, userMxid],
    );
    return rows.map(fromRow);
  }

  /** Every login of the bridge, for the session pool's start-up (keyset-paged by login id). */
  async listPage(afterLoginId: string, limit: number, q: Queryable = this.db): Promise<UserLoginRecord[]> {
    const { rows } = await q.query<Row>(
      `SELECT ${COLUMNS} FROM bridge_user_logins WHERE bridge_id = $1 AND login_id > $2 ORDER BY login_id LIMIT $3`,
      [this.bridgeId, afterLoginId, limit],
    );
    return rows.map(fromRow);
  }

  async setState(loginId: LoginId, state: BridgeState, q: Queryable = this.db): Promise<void> {
    await q.query(
      `UPDATE bridge_user_logins SET state = $3, state_error = $4, state_message = $5, state_info = $6, state_ts = $7
       WHERE bridge_id = $1 AND login_id = $2`,
      [
        this.bridgeId,
        loginId,
        state.stateEvent,
        state.error ?? null,
        state.message ?? null,
        state.info ? JSON.stringify(state.info) : null,
        state.timestamp * 1000,
      ],
    );
  }

  async setMetadata(loginId: LoginId, metadata: Record<string, unknown>, q: Queryable = this.db): Promise<void> {
    await q.query('UPDATE bridge_user_logins SET metadata = $3 WHERE bridge_id = $1 AND login_id = $2', [
      this.bridgeId,
      loginId,
      JSON.stringify(metadata),
    ]);
  }

  async delete(loginId: LoginId, q: Queryable = this.db): Promise<boolean> {
    const { rowCount } = await q.query('DELETE FROM bridge_user_logins WHERE bridge_id = $1 AND login_id = $2', [this.bridgeId, loginId]);
    return (rowCount ?? 0) > 0;
  }

  /** Sessions by state, for the `bridge_sessions` gauge. */
  async countByState(q: Queryable = this.db): Promise<Map<BridgeStateEvent, number>> {
    const { rows } = await q.query<{ state: string; n: number }>(
      'SELECT state, count(*)::int AS n FROM bridge_user_logins WHERE bridge_id = $1 GROUP BY state',
      [this.bridgeId],
    );
    return new Map(rows.map((r) => [r.state as BridgeStateEvent, r.n]));
  }
}
