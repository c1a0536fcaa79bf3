import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import type { Platform } from '../../../homeserver/platform.js';
import { canonicalJsonBytes } from '../../../homeserver/matrix/canonical-json.js';
import { omitKeys, unpaddedBase64 } from '../../../homeserver/matrix/event-hashes.js';
import { call, type TestUser } from '../../helpers/platform.js';

/** An Ed25519 key pair with its public key as Matrix writes it (unpadded base64). */
export interface Ed25519 {
  publicKey: string;
  privateKey: KeyObject;
}

export function ed25519(): Ed25519 {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(12);
  return { publicKey: unpaddedBase64(raw), privateKey };
}

/** Adds `signatures[userId][keyId]` over the canonical JSON without signatures and unsigned. */
export function signed<T extends object>(obj: T, userId: string, keyId: string, key: Ed25519): T {
  const sig = unpaddedBase64(sign(null, canonicalJsonBytes(omitKeys(obj, ['signatures', 'unsigned'])), key.privateKey));
  const sigs = ((obj as { signatures?: Record<string, Record<string, string>> }).signatures ?? {}) as Record<
    string,
    Record<string, string>
  >;
  return { ...obj, signatures: { ...sigs, [userId]: { ...sigs[userId], [keyId]: sig } } };
}

export interface TestDevice {
  key: Ed25519;
  deviceKeys: Record<string, unknown>;
}

/** Self-signed device keys as a real client uploads them. */
export function deviceKeysOf(user: TestUser): TestDevice {
  const key = ed25519();
  const curve = ed25519().publicKey; // any 32 bytes stand in for the curve25519 key
  const deviceKeys = signed(
    {
      user_id: user.userId,
      device_id: user.deviceId,
      algorithms: ['m.olm.v1.curve25519-aes-sha2', 'm.megolm.v1.aes-sha2'],
      keys: { [`curve25519:${user.deviceId}`]: curve, [`ed25519:${user.deviceId}`]: key.publicKey },
    },
    user.userId,
    `ed25519:${user.deviceId}`,
    key,
  );
  return { key, deviceKeys };
}

/** `n` signed curve25519 one-time keys, ids prefixed so different batches never collide. */
export function oneTimeKeys(user: TestUser, device: TestDevice, n: number, prefix = 'k'): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) {
    out[`signed_curve25519:${prefix}${i}`] = signed({ key: ed25519().publicKey }, user.userId, `ed25519:${user.deviceId}`, device.key);
  }
  return out;
}

export function crossSigningKey(userId: string, usage: string, key: Ed25519): Record<string, unknown> {
  return { user_id: userId, usage: [usage], keys: { [`ed25519:${key.publicKey}`]: key.publicKey } };
}

/** Logs an existing user in again: a second device. */
export async function loginAgain(p: Platform, user: TestUser, password = 'correct horse battery'): Promise<TestUser> {
  const localpart = user.userId.slice(1, user.userId.indexOf(':'));
  const res = await call(p, undefined, 'POST', '/_matrix/client/v3/login', {
    type: 'm.login.password',
    identifier: { type: 'm.id.user', user: localpart },
    password,
  });
  if (res.status !== 200) throw new Error(`login ${localpart}: ${res.status} ${JSON.stringify(res.body)}`);
  return {
    userId: res.body.user_id,
    deviceId: res.body.device_id,
    accessToken: res.body.access_token,
    auth: { authorization: `Bearer ${res.body.access_token}` },
  };
}
