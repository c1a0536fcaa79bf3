import { hkdfSync } from 'node:crypto';
import type { MasterKey } from './master-key.js';

/**
 * One key per login: HKDF-SHA256 over the master secret with the bridge and login ids as `info`,
 * so a login's key opens only that login's rows (a leaked or misused key of one login reveals
 * nothing of another's, and a row copied to another login does not open). The ids are
 * length-prefixed so ('ab', 'c') and ('a', 'bc') never derive the same key.
 */
const SALT = Buffer.from('causeway/bridge-crypto-store/v1');
export const LOGIN_KEY_BYTES = 32;

export function deriveLoginKey(master: MasterKey, bridgeId: string, loginId: string): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', master.bytes(), SALT, lengthPrefixed(['login-key', bridgeId, loginId]), LOGIN_KEY_BYTES));
}

/** Unambiguous concatenation: each part as a 4-byte big-endian length plus its UTF-8 bytes. */
export function lengthPrefixed(parts: string[]): Buffer {
  const bufs: Buffer[] = [];
  for (const p of parts) {
    const b = Buffer.from(p, 'utf8');
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.byteLength);
    bufs.push(len, b);
  }
  return Buffer.concat(bufs);
}
