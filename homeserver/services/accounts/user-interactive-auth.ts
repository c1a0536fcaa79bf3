import { randomBytes } from 'node:crypto';
import type { Db } from '../../storage/db.js';
import { MatrixError, UiaRequired } from '../../matrix/errors.js';
import type { Accounts } from './accounts.js';

export type UiaStage = 'm.login.password' | 'm.login.dummy';
export interface UiaFlow {
  stages: UiaStage[];
}

interface AuthDict {
  type?: string;
  session?: string;
  password?: string;
  identifier?: { type?: string; user?: string };
  user?: string;
}

const SESSION_TTL_MS = 15 * 60_000;

/**
 * User-Interactive Authentication (spec: Client-Server API, "User-interactive authentication API").
 * Sessions are rows so that a client may continue a flow on any client-api process.
 */
export class UserInteractiveAuth {
  constructor(
    private db: Db,
    private accounts: Accounts,
  ) {}

  /**
   * Returns once one of `flows` is complete for this request; otherwise throws the 401 challenge.
   * `userId` is the authenticated user for actions on an existing account (password must be theirs).
   */
  async require(action: string, auth: AuthDict | undefined, flows: UiaFlow[], userId?: string): Promise<void> {
    let session = auth?.session;
    let completed: string[] = [];
    if (session) {
      const { rows } = await this.db.query<{ completed: string[]; action: string; user_id: string | null; created_ts: number }>(
        'SELECT completed, action, user_id, created_ts FROM hs_uia_sessions WHERE session_id = $1',
        [session],
      );
      const row = rows[0];
      if (!row || row.created_ts < Date.now() - SESSION_TTL_MS) throw new MatrixError('M_UNKNOWN', 'Unknown or expired UIA session', 400);
      if (row.action !== action || (row.user_id ?? undefined) !== userId)
        throw MatrixError.forbidden('UIA session was started for a different request');
      completed = row.completed;
    } else {
      session = randomBytes(16).toString('base64url');
      await this.db.query('INSERT INTO hs_uia_sessions (session_id, user_id, action, created_ts) VALUES ($1,$2,$3,$4)', [
        session,
        userId ?? null,
        action,
        Date.now(),
      ]);
    }

    let stageError: MatrixError | undefined;
    if (auth?.type) {
      try {
        await this.completeStage(auth, userId);
        if (!completed.includes(auth.type)) completed = [...completed, auth.type];
        await this.db.query('UPDATE hs_uia_sessions SET completed = $2 WHERE session_id = $1', [session, completed]);
      } catch (err) {
        if (!(err instanceof MatrixError)) throw err;
        stageError = err;
      }
    }

    if (flows.some((f) => f.stages.every((s) => completed.includes(s)))) {
      await this.db.query('DELETE FROM hs_uia_sessions WHERE session_id = $1', [session]);
      return;
    }
    throw new UiaRequired({
      flows,
      params: {},
      session,
      ...(completed.length ? { completed } : {}),
      ...(stageError ? { errcode: stageError.errcode, error: stageError.message } : {}),
    });
  }

  private async completeStage(auth: AuthDict, userId: string | undefined): Promise<void> {
    switch (auth.type) {
      case 'm.login.dummy':
        return;
      case 'm.login.password': {
        const claimed = auth.identifier?.user ?? auth.user;
        if (!userId || typeof auth.password !== 'string') throw MatrixError.forbidden('Invalid password');
        if (claimed && claimed !== userId && this.accounts.userIdFor(claimed) !== userId)
          throw MatrixError.forbidden('Identifier does not match the authenticated user');
        if (!(await this.accounts.checkPassword(userId, auth.password))) throw MatrixError.forbidden('Invalid password');
        return;
      }
      default:
        throw new MatrixError('M_UNRECOGNIZED', `Unsupported authentication stage ${auth.type}`, 400);
    }
  }
}
