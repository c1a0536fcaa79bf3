import { MatrixError } from './errors.js';

/**
 * Canonical JSON (spec appendix "Canonical JSON"): the byte form that event hashes, event ids and
 * signatures are computed over. Two servers must produce identical bytes for the same value, so
 * this is a hand-written encoder rather than JSON.stringify with a replacer:
 *
 * - object keys sorted by Unicode code point (JS's default sort compares UTF-16 code units, which
 *   orders astral characters before U+E000..U+FFFF: wrong here);
 * - no insignificant whitespace;
 * - strings as JSON.stringify writes them: only `"`, `\` and C0 controls are escaped, control
 *   characters without a short escape as lowercase `\u00XX`, everything else raw UTF-8;
 * - numbers only as integers in [-(2^53)+1, 2^53-1]; `-0` is written as `0` (the spec's own
 *   example maps `-0` to `0`); floats, NaN and infinities are M_BAD_JSON.
 *
 * Values JSON cannot carry (functions, symbols, bigint, class instances such as Date or Buffer)
 * are M_BAD_JSON too: reaching here with one is a bug that would otherwise be signed silently.
 * Object properties whose value is `undefined` are skipped, as JSON.stringify does, so optional
 * fields left `undefined` on a TypeScript object do not change the bytes.
 */
export function canonicalJson(value: unknown): string {
  return encodeFast(value) ?? encode(value);
}

/** The UTF-8 bytes of canonicalJson(value): what is hashed and signed. */
export function canonicalJsonBytes(value: unknown): Buffer {
  return Buffer.from(canonicalJson(value), 'utf8');
}

/**
 * The hot path (every event is encoded several times): copy the value with its keys inserted in
 * code-point order, then let V8's native JSON.stringify write it, which escapes exactly as the
 * per-string encoder below does. JS objects list integer-like keys ("7", "10") first and in
 * numeric order whatever the insertion order, so such keys — and anything unusual — fall back to
 * the careful encoder (undefined return).
 */
function encodeFast(value: unknown): string | undefined {
  const copy = sortedCopy(value, 0);
  if (copy === FALLBACK) return undefined;
  const out = JSON.stringify(copy);
  // JSON.stringify escapes lone surrogates as \udXXX; the careful encoder rejects them (rare: fall back).
  if (out.includes('\\ud')) return undefined;
  return out;
}

const FALLBACK = Symbol('fallback');
const INTEGER_LIKE = /^(?:0|[1-9]\d*)$/;

function sortedCopy(value: unknown, depth: number): unknown {
  if (depth > 100) return FALLBACK;
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isInteger(value) && value <= MAX_SAFE && value >= -MAX_SAFE ? value : FALLBACK;
    case 'object': {
      if (value === null) return null;
      if (Array.isArray(value)) {
        const arr = new Array(value.length);
        for (let i = 0; i < value.length; i++) {
          const item = value[i];
          if (item === undefined) return FALLBACK;
          const c = sortedCopy(item, depth + 1);
          if (c === FALLBACK) return FALLBACK;
          arr[i] = c;
        }
        return arr;
      }
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) return FALLBACK;
      const keys = Object.keys(value);
      const out: Record<string, unknown> = {};
      for (const key of keys.sort(compareCodePoints)) {
        if (INTEGER_LIKE.test(key)) return FALLBACK;
        const v = (value as Record<string, unknown>)[key];
        if (v === undefined) continue;
        const c = sortedCopy(v, depth + 1);
        if (c === FALLBACK) return FALLBACK;
        out[key] = c;
      }
      return out;
    }
    default:
      return FALLBACK;
  }
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER; // 2^53 - 1

function encode(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return encodeString(value);
    case 'number':
      return encodeNumber(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      if (value === null) return 'null';
      if (Array.isArray(value)) return encodeArray(value);
      return encodeObject(value);
    default:
      throw MatrixError.badJson(`Canonical JSON cannot represent a value of type ${typeof value}`);
  }
}

function encodeNumber(n: number): string {
  if (!Number.isInteger(n)) throw MatrixError.badJson(`Canonical JSON allows only integers, got ${n}`);
  if (n > MAX_SAFE || n < -MAX_SAFE) throw MatrixError.badJson(`Integer ${n} is outside the canonical JSON range`);
  // String(-0) is "0" already; the explicit case documents the spec's requirement.
  return n === 0 ? '0' : String(n);
}

// Lone surrogates (from a "\ud800" escape in parsed input) are not Unicode scalar values and
// cannot be encoded as UTF-8. JSON.stringify escapes them as "\udXXX"; the cheap substring test
// finds those candidates, the regex (which with the `u` flag matches only unpaired halves) decides.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

function encodeString(s: string): string {
  const out = JSON.stringify(s);
  if (out.includes('\\ud') && LONE_SURROGATE.test(s)) {
    throw MatrixError.badJson('Canonical JSON strings must be valid Unicode (lone surrogate found)');
  }
  return out;
}

function encodeArray(arr: readonly unknown[]): string {
  let out = '[';
  for (let i = 0; i < arr.length; i++) {
    if (i > 0) out += ',';
    const item = arr[i];
    // JSON has no `undefined`; inside arrays it would shift positions, so it is an error here.
    if (item === undefined) throw MatrixError.badJson('Canonical JSON arrays cannot contain undefined');
    out += encode(item);
  }
  return out + ']';
}

function encodeObject(obj: object): string {
  const proto = Object.getPrototypeOf(obj) as unknown;
  if (proto !== Object.prototype && proto !== null) {
    throw MatrixError.badJson(
      `Canonical JSON cannot represent a ${(obj as { constructor?: { name?: string } }).constructor?.name ?? 'non-plain'} object`,
    );
  }
  const record = obj as Record<string, unknown>;
  const keys = Object.keys(record).sort(compareCodePoints);
  let out = '{';
  let first = true;
  for (const key of keys) {
    const v = record[key];
    if (v === undefined) continue;
    if (!first) out += ',';
    first = false;
    out += encodeString(key) + ':' + encode(v);
  }
  return out + '}';
}

/**
 * Orders strings by Unicode code point. Comparing UTF-16 code units gives the same answer except
 * when the first difference is between a surrogate (part of a code point >= U+10000) and a unit in
 * U+E000..U+FFFF; remapping the units so surrogates sort above that range fixes exactly that case.
 */
export function compareCodePoints(a: string, b: string): number {
  const len = Math.min(a.length, b.length);
  for (let i = 0; i < len; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x - y;
  }
  return a.length - b.length;
}
