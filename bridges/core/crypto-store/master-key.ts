import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';

/**
 * The crypto store's master secret: from a config value (base64) or a file (raw bytes or base64).
 * It never goes to the database or a log: MasterKey hides its bytes from JSON.stringify,
 * util.inspect and template strings, and errors about it name the config field, never the value.
 */
export const MIN_MASTER_KEY_BYTES = 32;

export class MasterKeyError extends Error {
  constructor(
    /** The config field at fault, e.g. `bridges.telegram.crypto_store.master_key_file`. */
    readonly field: string,
    problem: string,
  ) {
    super(`${field}: ${problem}`);
  }
}

export class MasterKey {
  readonly #bytes: Uint8Array;

  constructor(bytes: Uint8Array) {
    this.#bytes = Uint8Array.from(bytes);
  }

  /** For key derivation only. */
  bytes(): Uint8Array {
    return this.#bytes;
  }

  toJSON(): string {
    return '[MasterKey]';
  }
  toString(): string {
    return '[MasterKey]';
  }
  [inspect.custom](): string {
    return '[MasterKey]';
  }
}

export interface MasterKeySource {
  /** base64 (standard or url-safe) of the secret. */
  value?: string | undefined;
  /** A file holding the raw secret, or its base64. */
  file?: string | undefined;
}

/** Config field names used in error messages. */
export interface MasterKeyFields {
  value: string;
  file: string;
}

const DEFAULT_FIELDS: MasterKeyFields = { value: 'crypto_store.master_key', file: 'crypto_store.master_key_file' };

export function loadMasterKey(src: MasterKeySource, fields: MasterKeyFields = DEFAULT_FIELDS): MasterKey {
  const hasValue = src.value !== undefined && src.value !== '';
  const hasFile = src.file !== undefined && src.file !== '';
  if (hasValue && hasFile) throw new MasterKeyError(fields.value, `set either ${fields.value} or ${fields.file}, not both`);
  if (!hasValue && !hasFile) {
    throw new MasterKeyError(
      fields.value,
      `missing: set ${fields.value} (base64 of ${MIN_MASTER_KEY_BYTES}+ random bytes) or ${fields.file}`,
    );
  }
  if (hasValue) {
    const bytes = decodeBase64(src.value!);
    if (!bytes) throw new MasterKeyError(fields.value, 'is not valid base64');
    return checked(bytes, fields.value);
  }
  let raw: Buffer;
  try {
    raw = readFileSync(src.file!);
  } catch (err) {
    // The OS error code (ENOENT, EACCES) helps; the path is the operator's own config value.
    const code = (err as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new MasterKeyError(fields.file, `cannot read ${src.file} (${code})`);
  }
  // A text file of base64 is decoded; anything else is taken as raw bytes.
  const text = raw.toString('latin1').trim();
  const decoded = /^[A-Za-z0-9+/_-]+={0,2}$/.test(text) ? decodeBase64(text) : undefined;
  return checked(decoded && decoded.byteLength >= MIN_MASTER_KEY_BYTES ? decoded : raw, fields.file);
}

function decodeBase64(s: string): Uint8Array | undefined {
  const t = s.trim();
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(t)) return undefined;
  return Buffer.from(t, t.includes('-') || t.includes('_') ? 'base64url' : 'base64');
}

function checked(bytes: Uint8Array, field: string): MasterKey {
  if (bytes.byteLength < MIN_MASTER_KEY_BYTES) {
    throw new MasterKeyError(field, `too short: need at least ${MIN_MASTER_KEY_BYTES} bytes, got ${bytes.byteLength}`);
  }
  // Catches placeholders such as 32 zero bytes or "aaaa…"; random keys have ~30 distinct bytes in 32.
  if (new Set(bytes).size < 8) throw new MasterKeyError(field, 'looks like a placeholder, not random bytes (too few distinct byte values)');
  return new MasterKey(bytes);
}
