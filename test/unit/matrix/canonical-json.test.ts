import { describe, expect, it } from 'vitest';
import { canonicalJson, canonicalJsonBytes, compareCodePoints } from '../../../homeserver/matrix/canonical-json.js';
import { MatrixError } from '../../../homeserver/matrix/errors.js';

function expectBadJson(value: unknown) {
  let error: unknown;
  try {
    canonicalJson(value);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(MatrixError);
  expect((error as MatrixError).errcode).toBe('M_BAD_JSON');
}

describe('canonicalJson: spec appendix examples', () => {
  // Each pair is (JSON as given in the appendix, canonical output), parsed so the input goes
  // through JSON.parse exactly as a request body would.
  const cases: [string, string][] = [
    ['{}', '{}'],
    ['{\n    "one": 1,\n    "two": "Two"\n}', '{"one":1,"two":"Two"}'],
    ['{\n    "b": "2",\n    "a": "1"\n}', '{"a":"1","b":"2"}'],
    ['{"b":"2","a":"1"}', '{"a":"1","b":"2"}'],
    [
      '{"auth":{"success":true,"mxid":"@john.doe:example.com","profile":{"display_name":"John Doe","three_pids":[{"medium":"email","address":"john.doe@example.org"},{"medium":"msisdn","address":"123456789"}]}}}',
      '{"auth":{"mxid":"@john.doe:example.com","profile":{"display_name":"John Doe","three_pids":[{"address":"john.doe@example.org","medium":"email"},{"address":"123456789","medium":"msisdn"}]},"success":true}}',
    ],
    ['{"a": "日本語"}', '{"a":"日本語"}'],
    ['{"本": 2, "日": 1}', '{"日":1,"本":2}'],
    ['{"a": "\\u65E5"}', '{"a":"日"}'],
    ['{"a": null}', '{"a":null}'],
    ['{"a": -0, "b": 1e10}', '{"a":0,"b":10000000000}'],
  ];
  it.each(cases)('%s', (input, expected) => {
    expect(canonicalJson(JSON.parse(input))).toBe(expected);
  });
});

describe('canonicalJson: strings', () => {
  it('writes non-ASCII characters as raw UTF-8, astral ones included', () => {
    expect(canonicalJson({ a: 'é😀' })).toBe('{"a":"é😀"}');
    expect(canonicalJsonBytes({ a: 'é' })).toEqual(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0xa9, 0x22, 0x7d]));
  });

  it('escapes only what JSON requires, with short escapes where they exist', () => {
    expect(canonicalJson('"\\\b\f\n\r\t')).toBe('"\\"\\\\\\b\\f\\n\\r\\t"');
    expect(canonicalJson('\u0000\u001f\u000b')).toBe('"\\u0000\\u001f\\u000b"');
    expect(canonicalJson('/\u007f\u2028')).toBe('"/\u007f\u2028"');
  });

  it('rejects lone surrogates, which have no UTF-8 encoding', () => {
    expectBadJson({ a: '\ud800' });
    expectBadJson({ ['\udc00']: 1 });
    expect(canonicalJson('\\ud800 is text')).toBe('"\\\\ud800 is text"');
  });
});

describe('canonicalJson: key order', () => {
  it('sorts keys by code point, not by UTF-16 code unit', () => {
    // U+FFFD < U+1F600 by code point, but the surrogate 0xD83D < 0xFFFD as a code unit.
    expect(canonicalJson({ '😀': 1, '\ufffd': 2, z: 3 })).toBe('{"z":3,"\ufffd":2,"😀":1}');
    expect(compareCodePoints('\ufffd', '😀')).toBeLessThan(0);
    expect(compareCodePoints('a', 'ab')).toBeLessThan(0);
    expect(compareCodePoints('b', 'a')).toBeGreaterThan(0);
  });

  it('sorts nested objects and keeps array order', () => {
    expect(canonicalJson({ b: [{ d: 1, c: 2 }, 3], a: { y: true, x: false } })).toBe('{"a":{"x":false,"y":true},"b":[{"c":2,"d":1},3]}');
  });
});

describe('canonicalJson: numbers', () => {
  it('accepts the integer limits ±(2^53 - 1)', () => {
    expect(canonicalJson({ max: 9007199254740991, min: -9007199254740991 })).toBe('{"max":9007199254740991,"min":-9007199254740991}');
  });

  it('rejects integers beyond ±(2^53 - 1)', () => {
    expectBadJson({ a: 9007199254740992 });
    expectBadJson({ a: -9007199254740992 });
  });

  it('rejects floats, NaN and infinities', () => {
    expectBadJson({ a: 1.5 });
    expectBadJson([Number.NaN]);
    expectBadJson(Number.POSITIVE_INFINITY);
  });
});

describe('canonicalJson: values outside JSON', () => {
  it('skips undefined object properties like JSON.stringify', () => {
    expect(canonicalJson({ a: undefined, b: 1 })).toBe('{"b":1}');
  });

  it('rejects undefined in arrays, functions, bigints, symbols and class instances', () => {
    expectBadJson([undefined]);
    expectBadJson({ f: () => 1 });
    expectBadJson({ n: 1n });
    expectBadJson({ s: Symbol('x') });
    expectBadJson({ d: new Date(0) });
    expectBadJson({ b: Buffer.from('x') });
  });

  it('accepts null-prototype objects', () => {
    const o = Object.create(null) as Record<string, unknown>;
    o.b = 1;
    o.a = 2;
    expect(canonicalJson(o)).toBe('{"a":2,"b":1}');
  });
});

describe('canonicalJson fast path agrees with the careful encoder', () => {
  it('orders integer-like keys by code point, not numerically as JS objects do', () => {
    expect(canonicalJson({ '10': 1, '9': 2, b: { '2': 0, '11': 0 } })).toBe('{"10":1,"9":2,"b":{"11":0,"2":0}}');
  });
  it('escapes control characters and keeps non-ASCII raw', () => {
    expect(canonicalJson({ z: 'tab\there', a: 'é😀', m: '\u0001' })).toBe('{"a":"é😀","m":"\\u0001","z":"tab\\there"}');
  });
  it('skips undefined properties and nests arrays of objects', () => {
    expect(canonicalJson({ b: undefined, a: [{ y: 1, x: [true, null] }] })).toBe('{"a":[{"x":[true,null],"y":1}]}');
  });
});
