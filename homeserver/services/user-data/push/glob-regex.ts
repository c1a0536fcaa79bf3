/**
 * The regular expressions push rules match with (spec appendix "Glob-style matching"; case-insensitive,
 * by Unicode simple case folding). Built when a ruleset is compiled, and shared between rulesets
 * through bounded caches: every user's default rules use the same few patterns. RegExps without the
 * `g` or `y` flag keep no state between `test` calls, so sharing them is safe.
 */

/** A glob (`*` any run of characters, `?` exactly one code point) as regex source. */
export function globSource(glob: string): string {
  let out = '';
  for (const ch of glob) {
    if (ch === '*') out += '[\\s\\S]*';
    else if (ch === '?') out += '[\\s\\S]';
    else out += escapeRegex(ch);
  }
  return out;
}

/** Matches a value that the glob matches as a whole. */
export function wholeGlobRegex(glob: string): RegExp {
  return cached(wholeCache, glob, () => `^(?:${globSource(glob)})$`);
}

/** Matches a value holding a substring the glob matches that starts and ends at a word boundary (content.body). */
export function wordGlobRegex(glob: string): RegExp {
  return cached(wordCache, glob, () => wordBounded(globSource(glob)));
}

/** Matches a value holding a substring the regex `source` matches, at word boundaries (see word-match.ts). */
export function wordBoundedRegex(source: string): RegExp {
  return cached(sourceCache, source, () => wordBounded(source));
}

/** Word boundary: start or end of the value, or a character outside [A-Za-z0-9_]. */
function wordBounded(source: string): string {
  return `(?:^|[^A-Za-z0-9_])(?:${source})(?:[^A-Za-z0-9_]|$)`;
}

export function escapeRegex(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
}

const CACHE_LIMIT = 2000;
const wholeCache = new Map<string, RegExp>();
const wordCache = new Map<string, RegExp>();
const sourceCache = new Map<string, RegExp>();

function cached(cache: Map<string, RegExp>, key: string, source: () => string): RegExp {
  let re = cache.get(key);
  if (!re) {
    re = new RegExp(source(), 'iu');
    if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
    cache.set(key, re);
  }
  return re;
}
