import { randomBytes } from 'node:crypto';
import type { Db, Queryable, Tx } from '../../storage/db.js';
import { MatrixError } from '../../matrix/errors.js';
import { isValidUserLocalpart, makeUserId } from '../../matrix/ids.js';
import { hashPassword, verifyPassword, DUMMY_HASH } from './password-hash.js';
import type { AccessTokenStore } from './access-tokens.js';
import type { AppserviceRegistry } from '../appservices/registry-port.js';

export interface Session {
  userId: string;
  deviceId: string;
  accessToken: string;
}

export interface NewDevice {
  deviceId?: string;
  displayName?: string;
  ip?: string;
}

export interface UserRow {
  user_id: string;
  password_hash: string | null;
  is_admin: boolean;
  deactivated: boolean;
  appservice_id: string | null;
  displayname: string | null;
  avatar_url: string | null;
}

export const MIN_PASSWORD_LENGTH = 8;

/** Runs inside the transaction that deleted devices ('all': the account was deactivated). */
export type DevicesDeletedObserver = (tx: Tx, userId: string, deviceIds: string[] | 'all') => Promise<void>;

/** Users, their devices and the sessions (access tokens) those devices hold. */
export class Accounts {
  constructor(
    private db: Db,
    readonly tokens: AccessTokenStore,
    private serverName: string,
    private appservices?: AppserviceRegistry,
  ) {}

  private devicesDeleted: DevicesDeletedObserver[] = [];

  /** E2E device lists observe device deletions (their keys go with the device). */
  onDevicesDeleted(fn: DevicesDeletedObserver): void {
    this.devicesDeleted.push(fn);
  }

  userIdFor(localpart: string): string {
    return makeUserId(localpart, this.serverName);
  }

  /**
   * Validates a localpart for a new account; M_INVALID_USERNAME / M_USER_IN_USE as the spec says, and
   * M_EXCLUSIVE when an appservice other than `appserviceId` holds the name (or, for an appservice,
   * when the name is outside its own namespaces).
   */
  async checkAvailable(localpart: string, appserviceId?: string): Promise<string> {
    if (!isValidUserLocalpart(localpart)) throw new MatrixError('M_INVALID_USERNAME', 'User ID may only contain a-z, 0-9, and ._=-/+');
    const userId = this.userIdFor(localpart);
    if (Buffer.byteLength(userId) > 255) throw new MatrixError('M_INVALID_USERNAME', 'User ID is too long');
    this.checkExclusive(userId, appserviceId);
    if (await this.getUser(userId)) throw new MatrixError('M_USER_IN_USE', 'User ID already taken.');
    return userId;
  }

  /** M_EXCLUSIVE unless the user is outside every exclusive namespace or belongs to `appserviceId`. */
  checkExclusive(userId: string, appserviceId?: string): void {
    if (!this.appservices) return;
    if (appserviceId !== undefined) {
      const as = this.appservices.byId(appserviceId);
      if (!as || !this.appservices.ownsUser(as, userId))
        throw new MatrixError('M_EXCLUSIVE', 'User ID is not in the namespace of this application service');
      return;
    }
    if (this.appservices.exclusiveOwnerOfUser(userId))
      throw new MatrixError('M_EXCLUSIVE', 'User ID is reserved by an application service');
  }

  async getUser(userId: string, q: Queryable = this.db): Promise<UserRow | undefined> {
    const { rows } = await q.query<UserRow>('SELECT * FROM hs_users WHERE user_id = $1', [userId]);
    return rows[0];
  }

  /** Creates an account; with `device` it also logs the new user in. */
  async register(opts: {
    localpart: string;
    password?: string;
    admin?: boolean;
    appserviceId?: string;
    displayName?: string;
    device?: NewDevice;
  }): Promise<{ userId: string; session?: Session }> {
    const userId = await this.checkAvailable(opts.localpart, opts.appserviceId);
    if (opts.password !== undefined) checkPasswordStrength(opts.password);
    const hash = opts.password !== undefined ? await hashPassword(opts.password) : null;
    return this.db.withTransaction(async (tx) => {
      const inserted = await tx.query(
        `INSERT INTO hs_users (user_id, password_hash, is_admin, appservice_id, displayname, created_ts)
         VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT DO NOTHING`,
        [userId, hash, opts.admin ?? false, opts.appserviceId ?? null, opts.displayName ?? opts.localpart, Date.now()],
      );
      if (inserted.rowCount === 0) throw new MatrixError('M_USER_IN_USE', 'User ID already taken.');
      const session = opts.device ? await this.createSession(userId, opts.device, tx) : undefined;
      return { userId, session };
    });
  }

  /** Checks a password in constant time per user (a missing user costs the same as a wrong password). */
  async checkPassword(userId: string, password: string): Promise<UserRow | undefined> {
    const user = await this.getUser(userId);
    const ok = await verifyPassword(password, user?.password_hash ?? DUMMY_HASH);
    return ok && user && !user.deactivated && user.password_hash ? user : undefined;
  }

  async loginWithPassword(userId: string, password: string, device: NewDevice): Promise<Session> {
    this.checkExclusive(userId);
    const user = await this.checkPassword(userId, password);
    if (!user) {
      const existing = await this.getUser(userId);
      if (existing?.deactivated) throw new MatrixError('M_USER_DEACTIVATED', 'This account has been deactivated');
      throw new MatrixError('M_FORBIDDEN', 'Invalid username or password');
    }
    return this.createSession(userId, device);
  }

  /** A new (or re-used, when the client names its device) device with a fresh access token. */
  async createSession(userId: string, device: NewDevice, q: Queryable = this.db): Promise<Session> {
    const deviceId = device.deviceId ?? randomBytes(6).toString('hex').toUpperCase();
    if (device.deviceId) await this.tokens.revoke(userId, [deviceId], q); // re-login on a device replaces its token
    await q.query(
      `INSERT INTO hs_devices (user_id, device_id, display_name, last_seen_ts, last_seen_ip, created_ts)
       VALUES ($1,$2,$3,$4,$5,$4)
       ON CONFLICT (user_id, device_id) DO UPDATE SET display_name = COALESCE($3, hs_devices.display_name),
         last_seen_ts = $4, last_seen_ip = $5`,
      [userId, deviceId, device.displayName ?? null, Date.now(), device.ip ?? null],
    );
    const localpart = userId.slice(1, userId.indexOf(':'));
    const accessToken = await this.tokens.issue({ userId, deviceId }, localpart, q);
    return { userId, deviceId, accessToken };
  }

  /** A device without an access token (MSC4190: appservices create their users' devices). */
  async createDevice(userId: string, deviceId: string, displayName: string | null): Promise<void> {
    await this.db.query(
      `INSERT INTO hs_devices (user_id, device_id, display_name, last_seen_ts, created_ts) VALUES ($1,$2,$3,$4,$4)
       ON CONFLICT (user_id, device_id) DO NOTHING`,
      [userId, deviceId, displayName, Date.now()],
    );
  }

  async changePassword(userId: string, newPassword: string, logoutOthers: boolean, keepDeviceId: string | undefined) {
    checkPasswordStrength(newPassword);
    const hash = await hashPassword(newPassword);
    await this.db.query('UPDATE hs_users SET password_hash = $2 WHERE user_id = $1', [userId, hash]);
    if (!logoutOthers) return;
    const others = (await this.listDevices(userId)).map((d) => d.device_id).filter((d) => d !== keepDeviceId);
    await this.deleteDevices(userId, others);
  }

  async deactivate(userId: string): Promise<void> {
    await this.db.withTransaction(async (tx) => {
      await tx.query('UPDATE hs_users SET deactivated = true, password_hash = NULL WHERE user_id = $1', [userId]);
      await this.tokens.revoke(userId, 'all', tx);
      await tx.query('DELETE FROM hs_devices WHERE user_id = $1', [userId]);
      for (const fn of this.devicesDeleted) await fn(tx, userId, 'all');
    });
  }

  async listDevices(userId: string) {
    const { rows } = await this.db.query<{
      device_id: string;
      display_name: string | null;
      last_seen_ts: number | null;
      last_seen_ip: string | null;
    }>('SELECT device_id, display_name, last_seen_ts, last_seen_ip FROM hs_devices WHERE user_id = $1 ORDER BY created_ts', [userId]);
    return rows;
  }

  async getDevice(userId: string, deviceId: string) {
    return (await this.listDevices(userId)).find((d) => d.device_id === deviceId);
  }

  async updateDevice(userId: string, deviceId: string, displayName: string | null): Promise<boolean> {
    const r = await this.db.query('UPDATE hs_devices SET display_name = $3 WHERE user_id = $1 AND device_id = $2', [
      userId,
      deviceId,
      displayName,
    ]);
    return r.rowCount === 1;
  }

  async deleteDevices(userId: string, deviceIds: string[]): Promise<void> {
    if (!deviceIds.length) return;
    await this.db.withTransaction(async (tx) => {
      await this.tokens.revoke(userId, deviceIds, tx);
      await tx.query('DELETE FROM hs_devices WHERE user_id = $1 AND device_id = ANY($2)', [userId, deviceIds]);
      for (const fn of this.devicesDeleted) await fn(tx, userId, deviceIds);
    });
  }

  async setProfile(userId: string, field: 'displayname' | 'avatar_url', value: string | null): Promise<void> {
    await this.db.query(`UPDATE hs_users SET ${field} = $2 WHERE user_id = $1`, [userId, value]);
  }
}

export function checkPasswordStrength(password: string): void {
  if (typeof password !== 'string' || password.length < MIN_PASSWORD_LENGTH)
    throw new MatrixError('M_WEAK_PASSWORD', `Password must be at least ${MIN_PASSWORD_LENGTH} characters`);
  if (Buffer.byteLength(password) > 512) throw new MatrixError('M_INVALID_PARAM', 'Password is too long');
}
