import { createHash } from 'node:crypto';
import { canonicalJsonBytes } from './canonical-json.js';
import type { EventId } from './ids.js';
import { redactEvent } from './redaction.js';
import type { RoomVersionId } from './room-versions.js';

/**
 * The two hashes of an event (spec server-server "Calculating the content hash / reference hash").
 *
 * - The content hash covers the whole unredacted event. It is stored in `hashes.sha256` and the
 *   signature covers it, so a receiver can tell a redacted copy from a tampered one.
 * - The reference hash covers only the redacted event, so it survives redaction; since room
 *   version 4 it is the event id.
 *
 * Both take the PDU exactly as sent over federation: local bookkeeping fields (an `event_id`,
 * `rejected`, ...) must not be present, or the hashes will not match other servers'.
 */

/** Unpadded standard base64 (spec appendix "Unpadded Base64"). */
export function unpaddedBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64').replace(/=+$/, '');
}

/** URL-safe unpadded base64: `-` and `_` for `+` and `/`. */
export function urlSafeUnpaddedBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url');
}

/**
 * Decodes standard or URL-safe base64, padded or not (the spec asks decoders to be lenient).
 * Returns undefined for anything that is not base64, rather than Node's silent best effort.
 */
export function decodeBase64(s: string): Buffer | undefined {
  if (typeof s !== 'string' || !/^[A-Za-z0-9+/\-_]*={0,2}$/.test(s) || s.replace(/=+$/, '').length % 4 === 1) return undefined;
  return Buffer.from(s, 'base64');
}

function sha256(bytes: Uint8Array): Buffer {
  return createHash('sha256').update(bytes).digest();
}

/** A shallow copy of `obj` without `keys`: the hashes and signatures cover objects minus a few keys. */
export function omitKeys(obj: object, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) if (!keys.includes(k)) out[k] = v;
  return out;
}

function contentHashBytes(event: object): Buffer {
  return sha256(canonicalJsonBytes(omitKeys(event, ['unsigned', 'signatures', 'hashes'])));
}

/** SHA-256 of the canonical JSON of the event without `unsigned`, `signatures` and `hashes`, unpadded base64. */
export function computeContentHash(event: object): string {
  return unpaddedBase64(contentHashBytes(event));
}

/** Whether `hashes.sha256` matches the event. False means the event was redacted or altered. */
export function verifyContentHash(event: object): boolean {
  const claimed = (event as { hashes?: { sha256?: unknown } }).hashes?.sha256;
  if (typeof claimed !== 'string') return false;
  const decoded = decodeBase64(claimed);
  return decoded !== undefined && decoded.equals(contentHashBytes(event));
}

/** SHA-256 of the canonical JSON of the redacted event without `signatures` and `unsigned`. */
export function computeReferenceHash(event: object, version: RoomVersionId): Buffer {
  return sha256(canonicalJsonBytes(omitKeys(redactEvent(event, version), ['signatures', 'unsigned'])));
}

/** The event id of room versions 4+: `$` + URL-safe unpadded base64 of the reference hash. */
export function computeEventId(event: object, version: RoomVersionId): EventId {
  return `$${urlSafeUnpaddedBase64(computeReferenceHash(event, version))}` as EventId;
}
