import type { Queryable } from '../../../homeserver/storage/db.js';
import { storedPortalKey } from '../ids.js';
import type { LoginId, PortalKey } from '../network/ids.js';

/**
 * The `bridge_user_portals` table: which logins take part in which portal. It routes a Matrix
 * message in a shared portal to the sender's login and says whom to invite.
 */
export class UserPortalStore {
  constructor(
    private db: Queryable,
    readonly bridgeId: string,
  ) {}

  /** Returns true when the row is new (the login just joined this portal). */
  async add(loginId: LoginId, key: PortalKey, q: Queryable = this.db): Promise<boolean> {
    const { rowCount } = await q.query(
      `INSERT INTO bridge_user_portals (bridge_id, login_id, chat_id, receiver) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
      [this.bridgeId, loginId, key.chatId, key.receiver ?? ''],
    );
    return (rowCount ?? 0) > 0;
  }

  async remove(loginId: LoginId, key: PortalKey, q: Queryable = this.db): Promise<void> {
    await q.query('DELETE FROM bridge_user_portals WHERE bridge_id = $1 AND login_id = $2 AND chat_id = $3 AND receiver = $4', [
      this.bridgeId,
      loginId,
      key.chatId,
      key.receiver ?? '',
    ]);
  }

  async loginsIn(key: PortalKey, q: Queryable = this.db): Promise<LoginId[]> {
    const { rows } = await q.query<{ login_id: string }>(
      'SELECT login_id FROM bridge_user_portals WHERE bridge_id = $1 AND chat_id = $2 AND receiver = $3 ORDER BY login_id',
      [this.bridgeId, key.chatId, key.receiver ?? ''],
    );
    return rows.map((r) => r.login_id as LoginId);
  }

  async portalsOf(loginId: LoginId, q: Queryable = this.db): Promise<PortalKey[]> {
    const { rows } = await q.query<{ chat_id: string; receiver: string }>(
      'SELECT chat_id, receiver FROM bridge_user_portals WHERE bridge_id = $1 AND login_id = $2',
      [this.bridgeId, loginId],
    );
    return rows.map((r) => storedPortalKey(r.chat_id, r.receiver));
  }

  async removeLogin(loginId: LoginId, q: Queryable = this.db): Promise<void> {
    await q.query('DELETE FROM bridge_user_portals WHERE bridge_id = $1 AND login_id = $2', [this.bridgeId, loginId]);
  }
}
