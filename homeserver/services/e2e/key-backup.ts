import { MatrixError } from '../../matrix/errors.js';
import type { Db, Queryable } from '../../storage/db.js';
import { checkId, e2eError } from './common.js';

export interface KeyBackupData {
  first_message_index: number;
  forwarded_count: number;
  is_verified: boolean;
  session_data: Record<string, unknown>;
}

export interface BackupVersionInfo {
  algorithm: string;
  auth_data: Record<string, unknown>;
  count: number;
  etag: string;
  version: string;
}

/** room id -> session id -> key data. */
export type BackupRooms = Record<string, Record<string, KeyBackupData>>;

export interface RoomKeysUpdate {
  etag: string;
  count: number;
}

interface VersionRow {
  version: number;
  algorithm: string;
  auth_data: string;
  etag: number;
  deleted: boolean;
}

const notFound = () => MatrixError.notFound('Unknown backup version');

/** Versions are decimal integers; anything else cannot name a backup. */
function versionNumber(version: string): number | undefined {
  return /^\d{1,15}$/.test(version) ? Number(version) : undefined;
}

/**
 * Server-side key backup (spec: "Server-side key backups"). The server stores opaque encrypted
 * session data and applies the spec's rule for which of two copies of a session to keep.
 */
export class KeyBackup {
  constructor(private db: Db) {}

  async createVersion(userId: string, algorithm: string, authData: Record<string, unknown>): Promise<string> {
    checkId(algorithm, 'algorithm');
    return this.db.withTransaction(async (tx) => {
      await tx.query("SELECT pg_advisory_xact_lock(hashtextextended('hs_e2e_backup:' || $1, 0))", [userId]);
      const { rows } = await tx.query<{ version: number }>(
        `INSERT INTO hs_e2e_backup_versions (user_id, version, algorithm, auth_data, created_ts)
         SELECT $1, COALESCE(MAX(version), 0) + 1, $2, $3, $4 FROM hs_e2e_backup_versions WHERE user_id = $1
         RETURNING version`,
        [userId, algorithm, JSON.stringify(authData), Date.now()],
      );
      return String(rows[0]!.version);
    });
  }

  private async current(userId: string, q: Queryable = this.db, lock = false): Promise<VersionRow | undefined> {
    const { rows } = await q.query<VersionRow>(
      `SELECT version, algorithm, auth_data, etag, deleted FROM hs_e2e_backup_versions
       WHERE user_id = $1 AND NOT deleted ORDER BY version DESC LIMIT 1${lock ? ' FOR UPDATE' : ''}`,
      [userId],
    );
    return rows[0];
  }

  /** A live (not deleted) version, or 404. */
  private async existing(userId: string, version: string, q: Queryable = this.db, lock = false): Promise<VersionRow> {
    const n = versionNumber(version);
    if (n === undefined) throw notFound();
    const { rows } = await q.query<VersionRow>(
      `SELECT version, algorithm, auth_data, etag, deleted FROM hs_e2e_backup_versions
       WHERE user_id = $1 AND version = $2 AND NOT deleted${lock ? ' FOR UPDATE' : ''}`,
      [userId, n],
    );
    if (!rows[0]) throw notFound();
    return rows[0];
  }

  private async count(q: Queryable, userId: string, version: number): Promise<number> {
    const { rows } = await q.query<{ n: number }>('SELECT count(*) AS n FROM hs_e2e_backup_sessions WHERE user_id = $1 AND version = $2', [
      userId,
      version,
    ]);
    return Number(rows[0]!.n);
  }

  /** GET /room_keys/version[/{version}]: the given version, or the current (latest live) one. */
  async getVersion(userId: string, version?: string): Promise<BackupVersionInfo> {
    const row = version === undefined ? await this.current(userId) : await this.existing(userId, version);
    if (!row) throw MatrixError.notFound('No current backup version');
    return {
      algorithm: row.algorithm,
      auth_data: JSON.parse(row.auth_data),
      count: await this.count(this.db, userId, row.version),
      etag: String(row.etag),
      version: String(row.version),
    };
  }

  /** PUT /room_keys/version/{version}: only auth_data may change. */
  async updateVersion(userId: string, version: string, body: { algorithm: string; auth_data: Record<string, unknown>; version?: string }) {
    const row = await this.existing(userId, version);
    if (body.version !== undefined && body.version !== version)
      throw MatrixError.invalidParam('The version in the body does not match the version in the path');
    if (body.algorithm !== row.algorithm) throw MatrixError.invalidParam('Algorithm does not match');
    await this.db.query('UPDATE hs_e2e_backup_versions SET auth_data = $3 WHERE user_id = $1 AND version = $2 AND NOT deleted', [
      userId,
      row.version,
      JSON.stringify(body.auth_data),
    ]);
  }

  /** DELETE /room_keys/version[/{version}]: the version and all its keys. Deleting a deleted version succeeds. */
  async deleteVersion(userId: string, version?: string): Promise<void> {
    await this.db.withTransaction(async (tx) => {
      let n: number | undefined;
      if (version === undefined) {
        n = (await this.current(userId, tx, true))?.version;
        if (n === undefined) throw MatrixError.notFound('No current backup version');
      } else {
        n = versionNumber(version);
        const { rows } = await tx.query<{ deleted: boolean }>(
          'SELECT deleted FROM hs_e2e_backup_versions WHERE user_id = $1 AND version = $2 FOR UPDATE',
          [userId, n ?? -1],
        );
        if (!rows[0]) throw notFound();
        if (rows[0].deleted) return;
      }
      await tx.query('UPDATE hs_e2e_backup_versions SET deleted = true WHERE user_id = $1 AND version = $2', [userId, n]);
      await tx.query('DELETE FROM hs_e2e_backup_sessions WHERE user_id = $1 AND version = $2', [userId, n]);
    });
  }

  /**
   * PUT /room_keys/keys...: only into the current version (else 403 M_WRONG_ROOM_KEYS_VERSION with
   * current_version; 404 when there is no backup at all). A session already stored is replaced only
   * by a better copy, as the spec orders: a verified key beats an unverified one; then the lower
   * first_message_index wins; then the lower forwarded_count; on a tie the stored copy stays.
   */
  async putKeys(userId: string, version: string, rooms: BackupRooms): Promise<RoomKeysUpdate> {
    const roomIds: string[] = [];
    const sessionIds: string[] = [];
    const firsts: number[] = [];
    const forwards: number[] = [];
    const verified: boolean[] = [];
    const data: string[] = [];
    for (const [roomId, sessions] of Object.entries(rooms)) {
      checkId(roomId, 'Room ID');
      for (const [sessionId, k] of Object.entries(sessions)) {
        checkId(sessionId, 'Session ID');
        roomIds.push(roomId);
        sessionIds.push(sessionId);
        firsts.push(k.first_message_index);
        forwards.push(k.forwarded_count);
        verified.push(k.is_verified);
        data.push(JSON.stringify(k.session_data));
      }
    }
    return this.db.withTransaction(async (tx) => {
      const current = await this.current(userId, tx, true);
      if (!current) throw notFound();
      if (String(current.version) !== version)
        throw e2eError('M_WRONG_ROOM_KEYS_VERSION', 'Wrong backup version.', 403, { current_version: String(current.version) });
      let etag = current.etag;
      if (roomIds.length) {
        const written = await tx.query(
          `INSERT INTO hs_e2e_backup_sessions AS s
             (user_id, version, room_id, session_id, first_message_index, forwarded_count, is_verified, session_data)
           SELECT $1, $2, k.room_id, k.session_id, k.first, k.forwarded, k.verified, k.data
           FROM unnest($3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::boolean[], $8::text[])
             AS k(room_id, session_id, first, forwarded, verified, data)
           ON CONFLICT (user_id, version, room_id, session_id) DO UPDATE SET
             first_message_index = EXCLUDED.first_message_index, forwarded_count = EXCLUDED.forwarded_count,
             is_verified = EXCLUDED.is_verified, session_data = EXCLUDED.session_data
           WHERE (EXCLUDED.is_verified AND NOT s.is_verified)
              OR (EXCLUDED.is_verified = s.is_verified AND (
                    EXCLUDED.first_message_index < s.first_message_index
                 OR (EXCLUDED.first_message_index = s.first_message_index AND EXCLUDED.forwarded_count < s.forwarded_count)))`,
          [userId, current.version, roomIds, sessionIds, firsts, forwards, verified, data],
        );
        if (written.rowCount) {
          etag++;
          await tx.query('UPDATE hs_e2e_backup_versions SET etag = $3 WHERE user_id = $1 AND version = $2', [
            userId,
            current.version,
            etag,
          ]);
        }
      }
      return { etag: String(etag), count: await this.count(tx, userId, current.version) };
    });
  }

  /** GET /room_keys/keys[/{roomId}[/{sessionId}]] of any live version (404 for an unknown one). */
  async readKeys(userId: string, version: string, roomId?: string, sessionId?: string): Promise<BackupRooms> {
    const row = await this.existing(userId, version);
    const { rows } = await this.db.query<{
      room_id: string;
      session_id: string;
      first_message_index: number;
      forwarded_count: number;
      is_verified: boolean;
      session_data: string;
    }>(
      `SELECT room_id, session_id, first_message_index, forwarded_count, is_verified, session_data FROM hs_e2e_backup_sessions
       WHERE user_id = $1 AND version = $2 AND ($3::text IS NULL OR room_id = $3) AND ($4::text IS NULL OR session_id = $4)
       ORDER BY room_id, session_id`,
      [userId, row.version, roomId ?? null, sessionId ?? null],
    );
    const out: BackupRooms = {};
    for (const r of rows) {
      (out[r.room_id] ??= {})[r.session_id] = {
        first_message_index: Number(r.first_message_index),
        forwarded_count: Number(r.forwarded_count),
        is_verified: r.is_verified,
        session_data: JSON.parse(r.session_data),
      };
    }
    return out;
  }

  /** DELETE /room_keys/keys[/{roomId}[/{sessionId}]] of any live version. */
  async deleteKeys(userId: string, version: string, roomId?: string, sessionId?: string): Promise<RoomKeysUpdate> {
    return this.db.withTransaction(async (tx) => {
      const row = await this.existing(userId, version, tx, true);
      const deleted = await tx.query(
        `DELETE FROM hs_e2e_backup_sessions
         WHERE user_id = $1 AND version = $2 AND ($3::text IS NULL OR room_id = $3) AND ($4::text IS NULL OR session_id = $4)`,
        [userId, row.version, roomId ?? null, sessionId ?? null],
      );
      let etag = row.etag;
      if (deleted.rowCount) {
        etag++;
        await tx.query('UPDATE hs_e2e_backup_versions SET etag = $3 WHERE user_id = $1 AND version = $2', [userId, row.version, etag]);
      }
      return { etag: String(etag), count: await this.count(tx, userId, row.version) };
    });
  }
}
