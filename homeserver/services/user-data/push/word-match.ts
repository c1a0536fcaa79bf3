import { escapeRegex, wordBoundedRegex } from './glob-regex.js';

/**
 * Whether a body holds `literal` at word boundaries, case-insensitively: what a content.body rule
 * without glob characters asks (the user's localpart, "@room") and what contains_display_name asks.
 *
 * Why not only the regex: every user has their own localpart rule, so a server holds thousands of
 * these regexes, each used when a message reaches that user. V8 compiles a regex on its first
 * runs and flushes the code of one left unused, so in bench:sync a woken sync's push rules took
 * ~30 us (p50) in regex compilation against ~0.5 us for compiled ones. When both the literal and
 * the body are ASCII, case-insensitive matching under Unicode simple case folding is exactly
 * ASCII lowercasing (no ASCII character folds together with a non-ASCII one inside an ASCII-only
 * body), so a plain substring search with boundary checks gives the same answer; other bodies
 * take the regex.
 */
export function literalWordTest(literal: string): (body: string) => boolean {
  const regex = wordBoundedRegex(escapeRegex(literal));
  if (!literal || !isAscii(literal)) return (body) => regex.test(body);
  const needle = literal.toLowerCase();
  return (body) => (isAscii(body) ? containsAsciiWord(body.toLowerCase(), needle) : regex.test(body));
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** [A-Za-z0-9_]: the word characters of the regex's boundary classes. */
function isWordChar(code: number): boolean {
  return (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 95;
}

/** Both lowercase ASCII: an occurrence of `needle` with no word character right before or after it. */
function containsAsciiWord(body: string, needle: string): boolean {
  for (let at = body.indexOf(needle); at !== -1; at = body.indexOf(needle, at + 1)) {
    const end = at + needle.length;
    if ((at === 0 || !isWordChar(body.charCodeAt(at - 1))) && (end === body.length || !isWordChar(body.charCodeAt(end)))) return true;
  }
  return false;
}
