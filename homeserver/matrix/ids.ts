import { randomBytes } from 'node:crypto';
import { isIPv6 } from 'node:net';
import { MatrixError } from './errors.js';

/**
 * Matrix identifiers (spec appendix "Identifier Grammar"). The branded types let a function say
 * "this string has been validated as a user id" without a wrapper object: a plain string only
 * becomes a UserId by going through parseUserId/makeUserId (or an explicit cast at a trust boundary).
 */
export type UserId = string & { readonly __brand: 'UserId' };
export type RoomId = string & { readonly __brand: 'RoomId' };
export type EventId = string & { readonly __brand: 'EventId' };
export type RoomAlias = string & { readonly __brand: 'RoomAlias' };
export type ServerName = string & { readonly __brand: 'ServerName' };

/** Every sigilled identifier is limited to 255 bytes of UTF-8, sigil and domain included. */
export const MAX_ID_BYTES = 255;

// server_name = hostname [ ":" port ]; hostname = IPv4address / "[" IPv6address "]" / dns-name
const PORT = /^[0-9]{1,5}$/;
const IPV4 = /^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$/;
const IPV6_CHARS = /^[0-9A-Fa-f:.]{2,45}$/;
// dns-name = 1*255 dns-char, which the prose narrows to dot-separated labels of letters, digits
// and hyphens (RFC 1123). Empty labels ("a..b", ".a") are not host names.
const DNS_NAME = /^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$/;

/**
 * Whether `s` is a server name by the spec grammar: a DNS name, a dotted-quad IPv4 literal (each
 * part 0-255) or a bracketed IPv6 literal (which must also be a real RFC 3513 address), each with
 * an optional port of 1-5 digits. The grammar, not the 65535 port limit, decides: a remote name
 * with port 99999 is syntactically valid and simply unreachable.
 */
export function isValidServerName(s: string): boolean {
  if (typeof s !== 'string' || s.length === 0) return false;
  let host: string;
  let port: string | undefined;
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close < 0) return false;
    const inner = s.slice(1, close);
    if (!IPV6_CHARS.test(inner) || !isIPv6(inner)) return false;
    const rest = s.slice(close + 1);
    if (rest === '') return true;
    if (!rest.startsWith(':')) return false;
    return PORT.test(rest.slice(1));
  }
  const colon = s.indexOf(':');
  if (colon >= 0) {
    host = s.slice(0, colon);
    port = s.slice(colon + 1);
    if (!PORT.test(port)) return false;
  } else {
    host = s;
  }
  if (host.length === 0 || host.length > 255) return false;
  const v4 = IPV4.exec(host);
  if (v4) return v4.slice(1).every((part) => Number(part) <= 255);
  return DNS_NAME.test(host);
}

/**
 * The localpart grammar for ids this server creates (spec v1.8+): a-z, 0-9 and `._=-/+`,
 * non-empty. New registrations must use it.
 */
export function isValidUserLocalpart(localpart: string): boolean {
  return /^[a-z0-9._=\-/+]+$/.test(localpart);
}

/**
 * The historical localpart grammar that servers MUST still accept from existing and remote users:
 * any Unicode scalar values except `:` and NUL, including the empty string.
 */
export function isHistoricalUserLocalpart(localpart: string): boolean {
  return !localpart.includes(':') && !localpart.includes('\u0000') && !hasLoneSurrogate(localpart);
}

/** With the `u` flag a paired surrogate is one code point, so the class matches only lone halves. */
function hasLoneSurrogate(s: string): boolean {
  return /[\uD800-\uDFFF]/u.test(s);
}

const SIGIL_NAMES: Record<string, string> = { '@': 'user ID', '!': 'room ID', '#': 'room alias', $: 'event ID' };

/** Shared checks for `&localpart:domain` identifiers; returns the colon position. */
function checkSigilled(s: unknown, sigil: string, allowEmptyLocalpart: boolean): number {
  const what = SIGIL_NAMES[sigil] ?? 'identifier';
  if (typeof s !== 'string') throw MatrixError.invalidParam(`Invalid ${what}: not a string`);
  if (!s.startsWith(sigil)) throw MatrixError.invalidParam(`Invalid ${what} '${s}': must start with '${sigil}'`);
  if (Buffer.byteLength(s, 'utf8') > MAX_ID_BYTES) {
    throw MatrixError.invalidParam(`Invalid ${what}: longer than ${MAX_ID_BYTES} bytes`);
  }
  const colon = s.indexOf(':');
  if (colon < 0) throw MatrixError.invalidParam(`Invalid ${what} '${s}': missing ':' before the server name`);
  const localpart = s.slice(1, colon);
  if (!allowEmptyLocalpart && localpart.length === 0) {
    throw MatrixError.invalidParam(`Invalid ${what} '${s}': empty localpart`);
  }
  if (!isHistoricalUserLocalpart(localpart)) {
    throw MatrixError.invalidParam(`Invalid ${what} '${s}': localpart contains NUL or invalid Unicode`);
  }
  const server = s.slice(colon + 1);
  if (!isValidServerName(server)) throw MatrixError.invalidParam(`Invalid ${what} '${s}': bad server name '${server}'`);
  return colon;
}

/**
 * Parses a user id. Accepts the historical localpart grammar (the spec obliges servers to accept
 * such users over federation, even an empty localpart); use isValidUserLocalpart for new accounts.
 */
export function parseUserId(s: string): UserId {
  checkSigilled(s, '@', true);
  return s as UserId;
}

/** Parses a `!opaque:server` room id (the format of room versions 1-11). */
export function parseRoomId(s: string): RoomId {
  checkSigilled(s, '!', false);
  return s as RoomId;
}

export function parseRoomAlias(s: string): RoomAlias {
  checkSigilled(s, '#', false);
  return s as RoomAlias;
}

/**
 * Parses an event id. Since room version 4 these are `$` + URL-safe base64 of the reference hash,
 * with no server name; older rooms used `$opaque:server`. Both are accepted, since the id is
 * opaque to everything but the room version that minted it.
 */
export function parseEventId(s: string): EventId {
  if (typeof s !== 'string') throw MatrixError.invalidParam('Invalid event ID: not a string');
  if (!s.startsWith('$')) throw MatrixError.invalidParam(`Invalid event ID '${s}': must start with '$'`);
  if (s.length < 2) throw MatrixError.invalidParam('Invalid event ID: empty');
  if (Buffer.byteLength(s, 'utf8') > MAX_ID_BYTES) {
    throw MatrixError.invalidParam(`Invalid event ID: longer than ${MAX_ID_BYTES} bytes`);
  }
  if (s.includes('\u0000') || hasLoneSurrogate(s)) throw MatrixError.invalidParam('Invalid event ID: contains NUL or invalid Unicode');
  return s as EventId;
}

function colonOf(id: string): number {
  const colon = id.indexOf(':');
  if (colon < 0) throw MatrixError.invalidParam(`Identifier '${id}' has no server name`);
  return colon;
}

/** The part between the sigil and the first ':' (localparts cannot contain ':'). */
export function localpartOf(id: string): string {
  return id.slice(1, colonOf(id));
}

/** Everything after the first ':': the server name, including any port. */
export function serverNameOf(id: string): ServerName {
  return id.slice(colonOf(id) + 1) as ServerName;
}

export function makeUserId(localpart: string, server: string): UserId {
  return parseUserId(`@${localpart}:${server}`);
}

export function makeRoomAlias(localpart: string, server: string): RoomAlias {
  return parseRoomAlias(`#${localpart}:${server}`);
}

/**
 * A new room id: `!` + 18 random characters + `:server`. The spec says generated localparts
 * SHOULD be alphanumeric, a subset of the URL-safe alphabet, so ids never need escaping in URLs.
 */
export function generateRoomId(server: string): RoomId {
  return parseRoomId(`!${generateOpaqueId(18)}:${server}`);
}

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/**
 * `len` characters from [A-Za-z0-9], uniformly distributed: bytes >= 248 (the largest multiple of
 * 62 below 256) are discarded rather than reduced modulo 62, which would favour the first letters.
 */
export function generateOpaqueId(len: number): string {
  if (!Number.isInteger(len) || len < 0) throw new RangeError(`generateOpaqueId: bad length ${len}`);
  let out = '';
  while (out.length < len) {
    const bytes = randomBytes(Math.max(16, Math.ceil((len - out.length) * 1.1)));
    for (const b of bytes) {
      if (b >= 248) continue;
      out += ALPHANUMERIC[b % 62];
      if (out.length === len) break;
    }
  }
  return out;
}
