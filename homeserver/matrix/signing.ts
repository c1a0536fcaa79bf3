import { createHash, createPrivateKey, createPublicKey, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { canonicalJsonBytes } from './canonical-json.js';
import { computeContentHash, computeEventId, decodeBase64, omitKeys, unpaddedBase64, urlSafeUnpaddedBase64 } from './event-hashes.js';
import { generateOpaqueId, type EventId } from './ids.js';
import type { Pdu, UnsignedPdu } from './pdu.js';
import { redactEvent } from './redaction.js';
import type { RoomVersionId } from './room-versions.js';

/**
 * Ed25519 signing of JSON and events (spec appendix "Signing JSON", server-server "Signing
 * Events") with node:crypto. The KeyObjects are built once per key and reused: building one
 * means parsing DER, which would otherwise dominate the cost of signing a small event.
 */
export interface SigningKey {
  /** `ed25519:<version>`, the key id under which signatures are published. */
  keyId: string;
  /** The 32-byte Ed25519 seed: the only secret, what gets stored. */
  seed: Buffer;
  /** Unpadded base64 of the 32-byte public key, as published in /_matrix/key/v2/server. */
  publicKeyBase64: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

// RFC 8410 DER prefixes: a PKCS#8 PrivateKeyInfo wrapping a 32-byte seed, and a
// SubjectPublicKeyInfo wrapping a 32-byte public key, for the Ed25519 OID 1.3.101.112.
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** Key versions are the part after `ed25519:`; the spec allows [a-zA-Z0-9_]. */
const KEY_VERSION = /^[A-Za-z0-9_]+$/;

export function signingKeyFromSeed(seed: Buffer, version: string): SigningKey {
  if (seed.length !== 32) throw new RangeError(`Ed25519 seed must be 32 bytes, got ${seed.length}`);
  if (!KEY_VERSION.test(version)) throw new RangeError(`Invalid signing key version '${version}'`);
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const publicKey = createPublicKey(privateKey);
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  return {
    keyId: `ed25519:${version}`,
    seed: Buffer.from(seed),
    publicKeyBase64: unpaddedBase64(spki.subarray(SPKI_ED25519_PREFIX.length)),
    privateKey,
    publicKey,
  };
}

/** A fresh key; the default version `a_XXXX` follows the common Synapse-style naming. */
export function generateSigningKey(version: string = `a_${generateOpaqueId(4)}`): SigningKey {
  return signingKeyFromSeed(randomBytes(32), version);
}

/** The bytes a signature covers: canonical JSON without `signatures` and `unsigned`. */
function signedBytes(obj: object): Buffer {
  return canonicalJsonBytes(omitKeys(obj, ['signatures', 'unsigned']));
}

function signatureOf(obj: object, key: SigningKey): string {
  return unpaddedBase64(sign(null, signedBytes(obj), key.privateKey));
}

type Signatures = Record<string, Record<string, string>>;

function addSignature(existing: unknown, serverName: string, keyId: string, sig: string): Signatures {
  const sigs = (typeof existing === 'object' && existing !== null ? existing : {}) as Signatures;
  return { ...sigs, [serverName]: { ...sigs[serverName], [keyId]: sig } };
}

/**
 * A copy of `obj` with this server's signature added under `signatures[serverName][keyId]`;
 * other signatures and `unsigned` are kept as they were (neither is covered by the signature).
 */
export function signJson<T extends object>(obj: T, serverName: string, key: SigningKey): T {
  const sig = signatureOf(obj, key);
  return { ...obj, signatures: addSignature((obj as { signatures?: unknown }).signatures, serverName, key.keyId, sig) };
}

// Remote servers' keys are verified against over and over; parsing the DER each time would cost
// more than the verification itself. Bounded so a flood of distinct keys cannot grow it forever.
const publicKeyCache = new Map<string, KeyObject>();
const PUBLIC_KEY_CACHE_MAX = 4096;

function publicKeyFromBase64(publicKeyBase64: string): KeyObject | undefined {
  const cached = publicKeyCache.get(publicKeyBase64);
  if (cached) return cached;
  const raw = decodeBase64(publicKeyBase64);
  if (!raw || raw.length !== 32) return undefined;
  const key = createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: 'der', type: 'spki' });
  if (publicKeyCache.size >= PUBLIC_KEY_CACHE_MAX) {
    const oldest = publicKeyCache.keys().next().value;
    if (oldest !== undefined) publicKeyCache.delete(oldest);
  }
  publicKeyCache.set(publicKeyBase64, key);
  return key;
}

/**
 * Whether `obj.signatures[serverName][keyId]` is a valid Ed25519 signature by the given public
 * key (standard or URL-safe base64) over the object without `signatures` and `unsigned`. Any
 * malformed input (missing signature, bad base64, wrong key length, non-JSON value) is `false`,
 * never an exception: callers ask "is this signed?", not "is this well-formed?".
 */
export function verifyJsonSignature(obj: object, serverName: string, keyId: string, publicKeyBase64: string): boolean {
  if (!keyId.startsWith('ed25519:')) return false;
  const sigText = (obj as { signatures?: Record<string, Record<string, unknown> | undefined> }).signatures?.[serverName]?.[keyId];
  if (typeof sigText !== 'string') return false;
  const sig = decodeBase64(sigText);
  if (!sig || sig.length !== 64) return false;
  const key = publicKeyFromBase64(publicKeyBase64);
  if (!key) return false;
  try {
    return verify(null, signedBytes(obj), key, sig);
  } catch {
    return false;
  }
}

/**
 * Checks an event's signature as received: the signature covers the redacted event, so this
 * succeeds for the full event and for a redacted copy alike.
 */
export function verifyEventSignature(
  event: object,
  version: RoomVersionId,
  serverName: string,
  keyId: string,
  publicKeyBase64: string,
): boolean {
  let redacted: object;
  try {
    redacted = redactEvent(event, version);
  } catch {
    return false;
  }
  return verifyJsonSignature(redacted, serverName, keyId, publicKeyBase64);
}

/**
 * Finishes an outgoing event: adds `hashes.sha256` (the content hash of the full event), then
 * signs the *redacted* event and attaches that signature to the full one, so the signature
 * stays checkable after a redaction while the hash still pins the full content.
 */
export function hashAndSignEvent(event: UnsignedPdu, version: RoomVersionId, serverName: string, key: SigningKey): Pdu {
  return hashSignAndIdentify(event, version, serverName, key).pdu;
}

/**
 * hashAndSignEvent plus the event id, from one canonical encoding: the bytes a new event's
 * signature covers (redacted, without signatures and unsigned) are exactly the bytes of its
 * reference hash, so the write path encodes and hashes them once.
 */
export function hashSignAndIdentify(
  event: UnsignedPdu,
  version: RoomVersionId,
  serverName: string,
  key: SigningKey,
): { pdu: Pdu; eventId: EventId } {
  const hashed = { ...event, hashes: { sha256: computeContentHash(event) } };
  if ((event as { signatures?: unknown }).signatures !== undefined) {
    const pdu = hashAndSignEventSlow(hashed, version, serverName, key);
    return { pdu, eventId: computeEventId(pdu, version) };
  }
  const bytes = canonicalJsonBytes(omitKeys(redactEvent(hashed, version), ['signatures', 'unsigned']));
  const sig = unpaddedBase64(sign(null, bytes, key.privateKey));
  const eventId = `$${urlSafeUnpaddedBase64(createHash('sha256').update(bytes).digest())}` as EventId;
  return { pdu: { ...hashed, signatures: addSignature(undefined, serverName, key.keyId, sig) }, eventId };
}

function hashAndSignEventSlow(
  hashed: UnsignedPdu & { hashes: { sha256: string } },
  version: RoomVersionId,
  serverName: string,
  key: SigningKey,
): Pdu {
  const sig = signatureOf(redactEvent(hashed, version), key);
  return { ...hashed, signatures: addSignature((hashed as { signatures?: unknown }).signatures, serverName, key.keyId, sig) };
}
