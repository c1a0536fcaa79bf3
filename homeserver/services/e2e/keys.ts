import type { OtkChangeFeed } from './otk-change-feed.js';
import { readOtkCounts } from './otk-counts-query.js';
import { canonicalJson } from '../../matrix/canonical-json.js';
import { omitKeys } from '../../matrix/event-hashes.js';
import { MatrixError } from '../../matrix/errors.js';
import { verifyJsonSignature } from '../../matrix/signing.js';
import type { Db, Queryable, Tx } from '../../storage/db.js';
import type { Requester } from '../requester.js';
import { checkId, e2eError, isObject, isUserId } from './common.js';
import type { DeviceListChange, DeviceLists } from './device-lists.js';

type Signatures = Record<string, Record<string, string>>;
type KeyObject = string | { key: string; signatures?: Signatures; [k: string]: unknown };

export interface DeviceKeys {
  user_id: string;
  device_id: string;
  algorithms: string[];
  keys: Record<string, string>;
  signatures: Signatures;
  [k: string]: unknown;
}

export interface CrossSigningKey {
  user_id: string;
  usage: string[];
  keys: Record<string, string>;
  signatures?: Signatures;
  [k: string]: unknown;
}

export interface KeysUploadRequest {
  device_keys?: DeviceKeys;
  one_time_keys?: Record<string, KeyObject>;
  fallback_keys?: Record<string, KeyObject>;
  'org.matrix.msc2732.fallback_keys'?: Record<string, KeyObject>;
}

export interface CrossSigningUpload {
  master_key?: CrossSigningKey;
  self_signing_key?: CrossSigningKey;
  user_signing_key?: CrossSigningKey;
}

/** What sync reports about a device's one-time and fallback keys. */
export interface OtkCounts {
  device_one_time_keys_count: Record<string, number>;
  device_unused_fallback_key_types: string[];
}

export type CrossSigningType = 'master' | 'self_signing' | 'user_signing';
const CROSS_SIGNING_FIELDS: Record<CrossSigningType, keyof CrossSigningUpload> = {
  master: 'master_key',
  self_signing: 'self_signing_key',
  user_signing: 'user_signing_key',
};

interface ParsedCrossSigningKey {
  type: CrossSigningType;
  publicKey: string;
  json: string;
  key: CrossSigningKey;
}

interface StoredCrossSigningKey {
  key_type: CrossSigningType;
  public_key: string;
  key_json: string;
}

/** Splits `<algorithm>:<key_id>`. */
function splitKeyId(id: string, what: string): { algorithm: string; keyId: string } {
  checkId(id, what);
  const colon = id.indexOf(':');
  if (colon <= 0 || colon === id.length - 1) throw MatrixError.invalidParam(`${what} '${id.slice(0, 100)}' is not <algorithm>:<key_id>`);
  return { algorithm: id.slice(0, colon), keyId: id.slice(colon + 1) };
}

/** The signed part of a key object: what two copies of "the same key" must agree on. */
function signedPart(obj: object): string {
  return canonicalJson(omitKeys(obj, ['signatures', 'unsigned']));
}

function failure(errcode: string, error: string) {
  return { errcode, error };
}

/**
 * Device identity keys, one-time and fallback keys, cross-signing keys and signatures
 * (spec: End-to-End Encryption). Only local users: Causeway does not federate yet.
 */
export class E2eKeys {
  constructor(
    private db: Db,
    private deviceLists: DeviceLists,
    private serverName: string,
    private otkChanges: OtkChangeFeed,
  ) {}

  private isLocal(userId: string): boolean {
    return isUserId(userId) && userId.endsWith(`:${this.serverName}`);
  }

  // --- POST /keys/upload ------------------------------------------------------------------------

  async upload(requester: Requester, body: KeysUploadRequest): Promise<{ one_time_key_counts: Record<string, number> }> {
    const userId = requester.userId;
    const deviceId = requester.deviceId;
    if (!deviceId) throw MatrixError.invalidParam('Uploading keys requires a device');

    let deviceKeysJson: string | undefined;
    const dk = body.device_keys;
    if (dk) {
      if (dk.user_id !== userId) throw MatrixError.invalidParam('device_keys.user_id does not match the requester');
      if (dk.device_id !== deviceId) throw MatrixError.invalidParam('device_keys.device_id does not match the requester');
      if (typeof dk.signatures?.[userId]?.[`ed25519:${deviceId}`] !== 'string')
        throw MatrixError.invalidParam(`device_keys must be signed by ed25519:${deviceId}`);
      for (const id of Object.keys(dk.keys)) splitKeyId(id, 'Device key ID');
      deviceKeysJson = JSON.stringify(omitKeys(dk, ['unsigned']));
    }

    const otks = Object.entries(body.one_time_keys ?? {}).map(([id, key]) => ({
      ...splitKeyId(id, 'One-time key ID'),
      json: JSON.stringify(key),
    }));
    const fallbackSource = body.fallback_keys ?? body['org.matrix.msc2732.fallback_keys'] ?? {};
    const fallbacks = Object.entries(fallbackSource).map(([id, key]) => ({
      ...splitKeyId(id, 'Fallback key ID'),
      json: JSON.stringify(key),
    }));
    if (new Set(fallbacks.map((f) => f.algorithm)).size !== fallbacks.length)
      throw MatrixError.invalidParam('At most one fallback key per algorithm');

    await this.db.withTransaction(async (tx) => {
      let changed = false;
      if (deviceKeysJson !== undefined) {
        const { rows } = await tx.query<{ key_json: string }>(
          'SELECT key_json FROM hs_e2e_device_keys WHERE user_id = $1 AND device_id = $2 FOR UPDATE',
          [userId, deviceId],
        );
        const old = rows[0]?.key_json;
        if (old === undefined || canonicalJson(JSON.parse(old)) !== canonicalJson(JSON.parse(deviceKeysJson))) {
          changed = true;
          await tx.query(
            `INSERT INTO hs_e2e_device_keys (user_id, device_id, key_json, ts) VALUES ($1,$2,$3,$4)
             ON CONFLICT (user_id, device_id) DO UPDATE SET key_json = EXCLUDED.key_json, ts = EXCLUDED.ts`,
            [userId, deviceId, deviceKeysJson, Date.now()],
          );
        }
      }

      if (otks.length) {
        // Re-uploading a key id with identical content is a harmless retry; different content is a client bug.
        const existing = await tx.query<{ algorithm: string; key_id: string; key_json: string }>(
          `SELECT o.algorithm, o.key_id, o.key_json FROM hs_e2e_one_time_keys o
           JOIN unnest($3::text[], $4::text[]) AS k(algorithm, key_id) ON o.algorithm = k.algorithm AND o.key_id = k.key_id
           WHERE o.user_id = $1 AND o.device_id = $2`,
          [userId, deviceId, otks.map((k) => k.algorithm), otks.map((k) => k.keyId)],
        );
        const byId = new Map(existing.rows.map((r) => [`${r.algorithm}:${r.key_id}`, r.key_json]));
        for (const k of otks) {
          const old = byId.get(`${k.algorithm}:${k.keyId}`);
          if (old !== undefined && canonicalJson(JSON.parse(old)) !== canonicalJson(JSON.parse(k.json)))
            throw MatrixError.invalidParam(`One-time key ${k.algorithm}:${k.keyId} already exists with different content`);
        }
        await tx.query(
          `INSERT INTO hs_e2e_one_time_keys (user_id, device_id, algorithm, key_id, key_json)
           SELECT $1, $2, k.algorithm, k.key_id, k.key_json
           FROM unnest($3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS k(algorithm, key_id, key_json, ord)
           ORDER BY k.ord
           ON CONFLICT (user_id, device_id, algorithm, key_id) DO NOTHING`,
          [userId, deviceId, otks.map((k) => k.algorithm), otks.map((k) => k.keyId), otks.map((k) => k.json)],
        );
      }

      for (const f of fallbacks) {
        // The same key uploaded again keeps its `used` flag; a new key starts unused.
        await tx.query(
          `INSERT INTO hs_e2e_fallback_keys AS f (user_id, device_id, algorithm, key_id, key_json, used)
           VALUES ($1,$2,$3,$4,$5,false)
           ON CONFLICT (user_id, device_id, algorithm) DO UPDATE SET
             used = f.used AND f.key_id = EXCLUDED.key_id AND f.key_json = EXCLUDED.key_json,
             key_id = EXCLUDED.key_id, key_json = EXCLUDED.key_json`,
          [userId, deviceId, f.algorithm, f.keyId, f.json],
        );
      }

      if (changed) await this.deviceLists.recordChanges(tx, [{ userId }]);
    });
    if (otks.length || fallbacks.length) this.otkChanges.changed([[userId, deviceId]]);
    return { one_time_key_counts: (await this.otkCounts(userId, deviceId)).device_one_time_keys_count };
  }

  /** Unclaimed one-time keys per algorithm (signed_curve25519 always present) and unused fallback key algorithms. */
  async otkCounts(userId: string, deviceId: string): Promise<OtkCounts> {
    return (await readOtkCounts(this.db, [[userId, deviceId]]))[0]!;
  }

  // --- POST /keys/query -------------------------------------------------------------------------

  async query(requester: Requester, wanted: Record<string, string[]>) {
    const users = Object.keys(wanted).filter((u) => this.isLocal(u));
    for (const u of users) for (const d of wanted[u]!) checkId(d, 'Device ID');
    const device_keys: Record<string, Record<string, DeviceKeys>> = {};
    const master_keys: Record<string, CrossSigningKey> = {};
    const self_signing_keys: Record<string, CrossSigningKey> = {};
    const user_signing_keys: Record<string, CrossSigningKey> = {};
    if (users.length) {
      const [known, devices, sigs, cross] = await Promise.all([
        this.db.query<{ user_id: string }>('SELECT user_id FROM hs_users WHERE user_id = ANY($1)', [users]),
        this.db.query<{ user_id: string; device_id: string; key_json: string; display_name: string | null }>(
          `SELECT k.user_id, k.device_id, k.key_json, d.display_name FROM hs_e2e_device_keys k
           JOIN hs_devices d ON d.user_id = k.user_id AND d.device_id = k.device_id
           WHERE k.user_id = ANY($1) ORDER BY k.user_id, k.device_id`,
          [users],
        ),
        this.db.query<{ target_user_id: string; target_key_id: string; signer_user_id: string; signer_key_id: string; signature: string }>(
          `SELECT target_user_id, target_key_id, signer_user_id, signer_key_id, signature FROM hs_e2e_signatures
           WHERE target_user_id = ANY($1) AND (signer_user_id = target_user_id OR signer_user_id = $2)`,
          [users, requester.userId],
        ),
        this.db.query<StoredCrossSigningKey & { user_id: string }>(
          'SELECT user_id, key_type, public_key, key_json FROM hs_e2e_cross_signing_keys WHERE user_id = ANY($1)',
          [users],
        ),
      ]);
      const extraSigs = new Map<string, typeof sigs.rows>();
      for (const s of sigs.rows) {
        const k = `${s.target_user_id}\u0000${s.target_key_id}`;
        extraSigs.set(k, [...(extraSigs.get(k) ?? []), s]);
      }
      const withSignatures = <T extends { signatures?: Signatures }>(obj: T, userId: string, keyId: string): T => {
        const extra = extraSigs.get(`${userId}\u0000${keyId}`);
        if (!extra) return obj;
        const signatures: Signatures = { ...obj.signatures };
        for (const s of extra) signatures[s.signer_user_id] = { ...signatures[s.signer_user_id], [s.signer_key_id]: s.signature };
        return { ...obj, signatures };
      };

      for (const { user_id } of known.rows) device_keys[user_id] = {};
      for (const row of devices.rows) {
        const filter = wanted[row.user_id]!;
        if (filter.length && !filter.includes(row.device_id)) continue;
        const keys = withSignatures(JSON.parse(row.key_json) as DeviceKeys, row.user_id, row.device_id);
        if (row.display_name !== null) keys.unsigned = { device_display_name: row.display_name };
        (device_keys[row.user_id] ??= {})[row.device_id] = keys;
      }
      for (const row of cross.rows) {
        const key = withSignatures(JSON.parse(row.key_json) as CrossSigningKey, row.user_id, row.public_key);
        if (row.key_type === 'master') master_keys[row.user_id] = key;
        else if (row.key_type === 'self_signing') self_signing_keys[row.user_id] = key;
        else if (row.user_id === requester.userId) user_signing_keys[row.user_id] = key;
      }
    }
    return { device_keys, master_keys, self_signing_keys, user_signing_keys, failures: {} };
  }

  // --- POST /keys/claim -------------------------------------------------------------------------

  /**
   * Claims one key per (user, device, algorithm): the oldest one-time key, or else the fallback key
   * (marked used, never deleted). `DELETE ... FOR UPDATE SKIP LOCKED` in one statement: concurrent
   * claims never return the same one-time key.
   */
  async claim(wanted: Record<string, Record<string, string>>) {
    const users: string[] = [];
    const devices: string[] = [];
    const algorithms: string[] = [];
    for (const [userId, byDevice] of Object.entries(wanted)) {
      if (!this.isLocal(userId)) continue;
      for (const [deviceId, algorithm] of Object.entries(byDevice)) {
        users.push(userId);
        devices.push(checkId(deviceId, 'Device ID'));
        algorithms.push(checkId(algorithm, 'Algorithm'));
      }
    }
    const one_time_keys: Record<string, Record<string, Record<string, unknown>>> = {};
    if (!users.length) return { one_time_keys, failures: {} };
    const put = (r: { user_id: string; device_id: string; algorithm: string; key_id: string; key_json: string }) => {
      ((one_time_keys[r.user_id] ??= {})[r.device_id] ??= {})[`${r.algorithm}:${r.key_id}`] = JSON.parse(r.key_json);
    };

    type Claimed = { user_id: string; device_id: string; algorithm: string; key_id: string; key_json: string };
    const claimed = await this.db.query<Claimed>(
      `DELETE FROM hs_e2e_one_time_keys o
       USING (
         SELECT k.id FROM unnest($1::text[], $2::text[], $3::text[]) AS q(user_id, device_id, algorithm)
         CROSS JOIN LATERAL (
           SELECT t.id FROM hs_e2e_one_time_keys t
           WHERE t.user_id = q.user_id AND t.device_id = q.device_id AND t.algorithm = q.algorithm
           ORDER BY t.id LIMIT 1
           FOR UPDATE SKIP LOCKED
         ) k
       ) c
       WHERE o.id = c.id
       RETURNING o.user_id, o.device_id, o.algorithm, o.key_id, o.key_json`,
      [users, devices, algorithms],
    );
    for (const r of claimed.rows) put(r);

    const got = new Set(claimed.rows.map((r) => `${r.user_id}\u0000${r.device_id}\u0000${r.algorithm}`));
    const missing = users.map((_, i) => i).filter((i) => !got.has(`${users[i]}\u0000${devices[i]}\u0000${algorithms[i]}`));
    if (missing.length) {
      const fallback = await this.db.query<Claimed>(
        `UPDATE hs_e2e_fallback_keys f SET used = true
         FROM unnest($1::text[], $2::text[], $3::text[]) AS q(user_id, device_id, algorithm)
         WHERE f.user_id = q.user_id AND f.device_id = q.device_id AND f.algorithm = q.algorithm
         RETURNING f.user_id, f.device_id, f.algorithm, f.key_id, f.key_json`,
        [missing.map((i) => users[i]), missing.map((i) => devices[i]), missing.map((i) => algorithms[i])],
      );
      for (const r of fallback.rows) put(r);
      this.otkChanges.changed(fallback.rows.map((r) => [r.user_id, r.device_id]));
    }
    this.otkChanges.changed(claimed.rows.map((r) => [r.user_id, r.device_id]));
    return { one_time_keys, failures: {} };
  }

  // --- cross-signing ----------------------------------------------------------------------------

  private parseCrossSigning(userId: string, body: CrossSigningUpload): ParsedCrossSigningKey[] {
    const out: ParsedCrossSigningKey[] = [];
    for (const type of Object.keys(CROSS_SIGNING_FIELDS) as CrossSigningType[]) {
      const key = body[CROSS_SIGNING_FIELDS[type]];
      if (!key) continue;
      const field = CROSS_SIGNING_FIELDS[type];
      if (key.user_id !== userId) throw MatrixError.invalidParam(`${field}.user_id does not match the requester`);
      if (!key.usage.includes(type)) throw MatrixError.invalidParam(`${field}.usage must include '${type}'`);
      const entries = Object.entries(key.keys);
      if (entries.length !== 1) throw MatrixError.invalidParam(`${field}.keys must hold exactly one key`);
      const [keyId, publicKey] = entries[0]!;
      if (!keyId.startsWith('ed25519:') || keyId.slice('ed25519:'.length) !== publicKey || !publicKey)
        throw MatrixError.invalidParam(`${field}.keys must be {"ed25519:<public key>": "<public key>"}`);
      checkId(publicKey, 'Public key');
      out.push({ type, publicKey, key, json: JSON.stringify(omitKeys(key, ['unsigned'])) });
    }
    return out;
  }

  private async storedCrossSigning(userId: string, q: Queryable = this.db): Promise<Map<CrossSigningType, StoredCrossSigningKey>> {
    const { rows } = await q.query<StoredCrossSigningKey>(
      'SELECT key_type, public_key, key_json FROM hs_e2e_cross_signing_keys WHERE user_id = $1',
      [userId],
    );
    return new Map(rows.map((r) => [r.key_type, r]));
  }

  private static needsAuth(stored: Map<CrossSigningType, StoredCrossSigningKey>, keys: ParsedCrossSigningKey[]): boolean {
    if (!stored.has('master')) return false;
    return keys.some((k) => {
      const old = stored.get(k.type);
      return !old || canonicalJson(JSON.parse(old.key_json)) !== canonicalJson(JSON.parse(k.json));
    });
  }

  /**
   * Whether POST /keys/device_signing/upload needs User-Interactive Authentication: always, except
   * for the first upload (no master key yet) and for an exact re-upload of the stored keys. Also
   * validates the request, so bad input fails before any UIA round trip.
   */
  async crossSigningNeedsAuth(userId: string, body: CrossSigningUpload): Promise<boolean> {
    const keys = this.parseCrossSigning(userId, body);
    return E2eKeys.needsAuth(await this.storedCrossSigning(userId), keys);
  }

  /** Stores cross-signing keys; `authenticated` says whether UIA was completed for this request. */
  async uploadCrossSigning(userId: string, body: CrossSigningUpload, authenticated: boolean): Promise<void> {
    const keys = this.parseCrossSigning(userId, body);
    if (!keys.length) return;
    const { rows: clash } = await this.db.query('SELECT 1 FROM hs_devices WHERE user_id = $1 AND device_id = ANY($2)', [
      userId,
      keys.map((k) => k.publicKey),
    ]);
    if (clash.length) throw MatrixError.forbidden('Key ID in use');

    await this.db.withTransaction(async (tx) => {
      await tx.query("SELECT pg_advisory_xact_lock(hashtextextended('hs_e2e_cross_signing:' || $1, 0))", [userId]);
      const stored = await this.storedCrossSigning(userId, tx);
      if (!authenticated && E2eKeys.needsAuth(stored, keys))
        throw MatrixError.forbidden('Cross-signing keys were uploaded concurrently; authenticate and retry');
      const masterKey = keys.find((k) => k.type === 'master')?.publicKey ?? stored.get('master')?.public_key;
      for (const k of keys) {
        if (k.type === 'master') continue;
        if (!masterKey) throw MatrixError.missingParam('No master signing key is available');
        if (!verifyJsonSignature(k.key, userId, `ed25519:${masterKey}`, masterKey))
          throw e2eError('M_INVALID_SIGNATURE', `The ${k.type} key is not signed by the master key`, 400);
      }
      let changed = false;
      for (const k of keys) {
        const old = stored.get(k.type);
        if (old && canonicalJson(JSON.parse(old.key_json)) === canonicalJson(JSON.parse(k.json))) continue;
        changed = true;
        await tx.query(
          `INSERT INTO hs_e2e_cross_signing_keys (user_id, key_type, public_key, key_json, ts) VALUES ($1,$2,$3,$4,$5)
           ON CONFLICT (user_id, key_type) DO UPDATE SET public_key = EXCLUDED.public_key, key_json = EXCLUDED.key_json, ts = EXCLUDED.ts`,
          [userId, k.type, k.publicKey, k.json, Date.now()],
        );
      }
      if (changed) await this.deviceLists.recordChanges(tx, [{ userId }]);
    });
  }

  // --- POST /keys/signatures/upload -------------------------------------------------------------

  /**
   * Stores signatures made by the requester: on their own devices (by their self-signing key), on
   * their own master key (by one of their devices), or on another user's master key (by their
   * user-signing key). Each signature is verified; what fails is reported per key in `failures`.
   */
  async uploadSignatures(requester: Requester, body: Record<string, Record<string, Record<string, unknown>>>) {
    const signer = requester.userId;
    const failures: Record<string, Record<string, { errcode: string; error: string }>> = {};
    const fail = (userId: string, keyId: string, errcode: string, error: string) => {
      (failures[userId] ??= {})[keyId] = failure(errcode, error);
    };
    const ownCross = await this.storedCrossSigning(signer);
    const toStore: { target: string; keyId: string; signerKeyId: string; signature: string }[] = [];
    const changes: DeviceListChange[] = [];

    for (const [targetUser, byKey] of Object.entries(body)) {
      for (const [keyId, obj] of Object.entries(byKey)) {
        if (!this.isLocal(targetUser) || keyId.length > 255 || keyId.includes('\u0000')) {
          fail(targetUser, keyId, 'M_NOT_FOUND', 'Unknown key');
          continue;
        }
        if (!isObject(obj) || obj.user_id !== targetUser) {
          fail(targetUser, keyId, 'M_INVALID_PARAM', 'user_id does not match');
          continue;
        }
        const newSigs = (obj.signatures as Signatures | undefined)?.[signer];
        if (!isObject(newSigs) || !Object.keys(newSigs).length) {
          fail(targetUser, keyId, 'M_INVALID_PARAM', `No signature by ${signer}`);
          continue;
        }

        // Which stored object is being signed, and which keys of the signer may sign it.
        let stored: string | undefined;
        let signers: Map<string, string>; // signer key id -> public key
        if (targetUser === signer && ownCross.get('master')?.public_key === keyId) {
          stored = ownCross.get('master')!.key_json;
          signers = await this.deviceSigningKeys(signer);
        } else if (targetUser === signer) {
          const { rows } = await this.db.query<{ key_json: string }>(
            'SELECT key_json FROM hs_e2e_device_keys WHERE user_id = $1 AND device_id = $2',
            [signer, keyId],
          );
          stored = rows[0]?.key_json;
          const ssk = ownCross.get('self_signing')?.public_key;
          signers = new Map(ssk ? [[`ed25519:${ssk}`, ssk]] : []);
        } else {
          const master = (await this.storedCrossSigning(targetUser)).get('master');
          stored = master?.public_key === keyId ? master.key_json : undefined;
          const usk = ownCross.get('user_signing')?.public_key;
          signers = new Map(usk ? [[`ed25519:${usk}`, usk]] : []);
        }
        if (stored === undefined) {
          fail(targetUser, keyId, 'M_NOT_FOUND', 'Unknown key');
          continue;
        }
        let same: boolean;
        try {
          same = signedPart(JSON.parse(stored)) === signedPart(obj);
        } catch {
          same = false; // not canonical-JSON encodable (floats): cannot be the stored key
        }
        if (!same) {
          fail(targetUser, keyId, 'M_INVALID_PARAM', 'The signed object does not match the stored key');
          continue;
        }
        let accepted = 0;
        for (const [signerKeyId, signature] of Object.entries(newSigs)) {
          const publicKey = signers.get(signerKeyId);
          if (!publicKey || typeof signature !== 'string' || !verifyJsonSignature(obj, signer, signerKeyId, publicKey)) continue;
          toStore.push({ target: targetUser, keyId, signerKeyId, signature });
          accepted++;
        }
        if (!accepted) {
          fail(targetUser, keyId, 'M_INVALID_SIGNATURE', 'Invalid signature');
          continue;
        }
        changes.push(targetUser === signer ? { userId: signer } : { userId: targetUser, audience: signer });
      }
    }

    if (toStore.length) {
      await this.db.withTransaction(async (tx: Tx) => {
        await tx.query(
          `INSERT INTO hs_e2e_signatures (target_user_id, target_key_id, signer_user_id, signer_key_id, signature)
           SELECT s.target, s.key_id, $1, s.signer_key_id, s.signature
           FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS s(target, key_id, signer_key_id, signature)
           ON CONFLICT (target_user_id, target_key_id, signer_user_id, signer_key_id) DO UPDATE SET signature = EXCLUDED.signature`,
          [
            signer,
            toStore.map((s) => s.target),
            toStore.map((s) => s.keyId),
            toStore.map((s) => s.signerKeyId),
            toStore.map((s) => s.signature),
          ],
        );
        const unique = new Map(changes.map((c) => [`${c.userId}\u0000${c.audience ?? ''}`, c]));
        await this.deviceLists.recordChanges(tx, [...unique.values()]);
      });
    }
    return { failures };
  }

  /** `ed25519:<device id>` -> the device's ed25519 key, for every device of the user with keys. */
  private async deviceSigningKeys(userId: string): Promise<Map<string, string>> {
    const { rows } = await this.db.query<{ device_id: string; key_json: string }>(
      'SELECT device_id, key_json FROM hs_e2e_device_keys WHERE user_id = $1',
      [userId],
    );
    const out = new Map<string, string>();
    for (const r of rows) {
      const id = `ed25519:${r.device_id}`;
      const key = (JSON.parse(r.key_json) as DeviceKeys).keys?.[id];
      if (typeof key === 'string') out.set(id, key);
    }
    return out;
  }

  /** Device deletion hook (runs in the deleting transaction): forget signatures on those devices, tell the user's contacts. */
  async devicesDeleted(tx: Tx, userId: string, deviceIds: string[] | 'all'): Promise<void> {
    if (deviceIds === 'all') {
      await tx.query(
        `DELETE FROM hs_e2e_signatures WHERE target_user_id = $1
           AND target_key_id NOT IN (SELECT public_key FROM hs_e2e_cross_signing_keys WHERE user_id = $1)`,
        [userId],
      );
      await tx.query('DELETE FROM hs_e2e_to_device_txns WHERE user_id = $1', [userId]);
    } else {
      await tx.query('DELETE FROM hs_e2e_signatures WHERE target_user_id = $1 AND target_key_id = ANY($2)', [userId, deviceIds]);
      await tx.query('DELETE FROM hs_e2e_to_device_txns WHERE user_id = $1 AND device_id = ANY($2)', [userId, deviceIds]);
    }
    await this.deviceLists.recordChanges(tx, [{ userId }]);
    // Their keys went with them: a device id reused by a later login must not inherit cached counts.
    tx.afterCommit(() => this.otkChanges.changed(deviceIds === 'all' ? [[userId, '*']] : deviceIds.map((d) => [userId, d])));
  }
}
