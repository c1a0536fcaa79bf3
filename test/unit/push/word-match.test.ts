import { describe, expect, it } from 'vitest';
import { literalWordTest } from '../../../homeserver/services/user-data/push/word-match.js';
import { escapeRegex } from '../../../homeserver/services/user-data/push/glob-regex.js';

/** The spec's semantics as the regex states them: case-insensitive (Unicode folding), word-bounded. */
const reference = (literal: string, body: string) =>
  new RegExp(`(?:^|[^A-Za-z0-9_])(?:${escapeRegex(literal)})(?:[^A-Za-z0-9_]|$)`, 'iu').test(body);

describe('literalWordTest: a word-bounded, case-insensitive literal match', () => {
  const cases: [string, string, boolean][] = [
    ['alice', 'hey alice!', true],
    ['alice', 'hey ALICE', true],
    ['alice', 'Alice: look', true],
    ['alice', 'malice aforethought', false],
    ['alice', 'alice_', false],
    ['alice', 'alice2', false],
    ['alice', '_alice', false],
    ['alice', 'alicealice alice', true],
    ['@room', '@room is everyone', true],
    ['@room', 'ping @ROOM.', true],
    ['@room', 'x@room', false], // the characters around the literal decide, even when it starts with a non-word character
    ['@room', '@rooms', false],
    ['u.1', 'u.1', true],
    ['u.1', 'uX1', false], // the dot is literal, not "any character"
    ['k', 'K', true],
    ['k', '\u212a', true], // KELVIN SIGN folds to k: the non-ASCII body takes the regex
    ['s', 'a \u017f b', true], // LATIN SMALL LETTER LONG S folds to s
    ['alice', 'héllo alice', true],
    ['alice', 'héllo malice', false],
    ['Zoë', 'hi zoë!', true],
    ['Zoë', 'hi ZOË', true],
    ['Zoë', 'zoëy', false],
    ['', '', true],
    ['', 'a', false],
    ['bob', '', false],
  ];
  it.each(cases)('%j in %j: %s', (literal, body, expected) => {
    expect(reference(literal, body)).toBe(expected); // the table itself states the regex semantics
    expect(literalWordTest(literal)(body)).toBe(expected);
  });

  it('agrees with the regex on 20,000 generated bodies (ASCII words, punctuation, underscores, digits, a few non-ASCII letters)', () => {
    let seed = 42;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const alphabet = [
      'a',
      'l',
      'i',
      'c',
      'e',
      'A',
      'L',
      'I',
      'C',
      'E',
      '_',
      '1',
      ' ',
      '.',
      '@',
      '!',
      '-',
      'é',
      '\u212a',
      '\u017f',
      'k',
      's',
    ];
    const literals = ['alice', 'ali', '@room', 'a.l', 'k', 's', 'a_1', 'ice!'];
    for (let i = 0; i < 20_000; i++) {
      const body = Array.from({ length: rand(16) }, () => alphabet[rand(alphabet.length)]).join('');
      const literal = literals[rand(literals.length)]!;
      expect(literalWordTest(literal)(body), `${JSON.stringify(literal)} in ${JSON.stringify(body)}`).toBe(reference(literal, body));
    }
  });
});
