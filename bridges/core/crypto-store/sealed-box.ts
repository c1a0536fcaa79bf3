import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import nacl from 'tweetnacl';
import { lengthPrefixed } from './key-derivation.js';

/**
 * The stored form of one key: tweetnacl secretbox (XSalsa20-Poly1305) under the login's key.
 *
 *   sealed = version (1 byte, 0x01) || nonce (24 random bytes) || secretbox(binding || value)
 *   binding = first 16 bytes of SHA-256(bridge, login, namespace, key id), length-prefixed
 *
 * secretbox has no associated data, so the row's identity travels inside the authenticated
 * plaintext: a ciphertext copied to another login fails to authenticate (other login key), one
 * copied to another namespace/key id of the same login opens but its binding does not match, and
 * both are refused. Random nonces are safe at this volume (2^-96 collision odds per pair).
 */
export const SEALED_VERSION = 1;
const NONCE_BYTES = nacl.secretbox.nonceLength;
const BINDING_BYTES = 16;

export interface RowIdentity {
  bridgeId: string;
  loginId: string;
  namespace: string;
  keyId: string;
}

/** Why a sealed value would not open. Carries no key material or plaintext. */
export class SealedBoxError extends Error {
  constructor(
    readonly reason: 'unknown-version' | 'cannot-authenticate' | 'wrong-row',
    message: string,
  ) {
    super(message);
  }
}

export function seal(key: Uint8Array, row: RowIdentity, value: Uint8Array): Uint8Array {
  const nonce = randomBytes(NONCE_BYTES);
  const plain = new Uint8Array(BINDING_BYTES + value.byteLength);
  plain.set(binding(row), 0);
  plain.set(value, BINDING_BYTES);
  const box = nacl.secretbox(plain, nonce, key);
  plain.fill(0);
  const out = new Uint8Array(1 + NONCE_BYTES + box.byteLength);
  out[0] = SEALED_VERSION;
  out.set(nonce, 1);
  out.set(box, 1 + NONCE_BYTES);
  return out;
}

export function open(key: Uint8Array, row: RowIdentity, sealed: Uint8Array): Uint8Array {
  if (sealed[0] !== SEALED_VERSION) throw new SealedBoxError('unknown-version', `unknown sealed format version ${sealed[0]}`);
  const nonce = sealed.subarray(1, 1 + NONCE_BYTES);
  const plain = nacl.secretbox.open(sealed.subarray(1 + NONCE_BYTES), nonce, key);
  if (!plain) {
    throw new SealedBoxError(
      'cannot-authenticate',
      'cannot open the sealed value: wrong master key, or the ciphertext belongs to another login or was altered',
    );
  }
  if (plain.byteLength < BINDING_BYTES || !timingSafeEqual(plain.subarray(0, BINDING_BYTES), binding(row))) {
    plain.fill(0);
    throw new SealedBoxError('wrong-row', 'the sealed value belongs to another row (namespace or key id) and is refused');
  }
  return plain.slice(BINDING_BYTES);
}

function binding(row: RowIdentity): Buffer {
  return createHash('sha256')
    .update(lengthPrefixed(['row', row.bridgeId, row.loginId, row.namespace, row.keyId]))
    .digest()
    .subarray(0, BINDING_BYTES);
}
