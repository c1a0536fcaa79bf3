/** Words of a search term or of a text: runs of letters and digits, as Postgres' parser splits them. */
const WORD = /[\p{L}\p{N}]+/gu;
const MAX_TERMS = 32;
const MAX_TERM_LENGTH = 100;

/** The lowercased distinct words of a search term (bounded: a term is user input). */
export function searchWords(term: string): string[] {
  const words = (term.toLowerCase().match(WORD) ?? []).map((w) => w.slice(0, MAX_TERM_LENGTH));
  return [...new Set(words)].slice(0, MAX_TERMS);
}

/**
 * A to_tsquery('simple', ...) text matching events that contain every word, each as a prefix (as
 * Synapse does: "mart" finds "martians"). Words hold letters and digits only, so they need no
 * quoting beyond the quotes that keep tsquery syntax out of the lexeme.
 */
export function prefixQuery(words: string[]): string {
  return words.map((w) => `'${w}':*`).join(' & ');
}

/** The words of a matched text that the query matched (spec: `highlights`), as written in it. */
export function highlightsIn(text: string, words: string[]): string[] {
  const out: string[] = [];
  for (const w of text.match(WORD) ?? []) {
    const lower = w.toLowerCase();
    if (words.some((q) => lower.startsWith(q))) out.push(w);
  }
  return out;
}
