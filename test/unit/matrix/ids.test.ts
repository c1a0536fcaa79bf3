import { describe, expect, it } from 'vitest';
import { MatrixError } from '../../../homeserver/matrix/errors.js';
import {
  generateOpaqueId,
  generateRoomId,
  isHistoricalUserLocalpart,
  isValidServerName,
  isValidUserLocalpart,
  localpartOf,
  makeRoomAlias,
  makeUserId,
  parseEventId,
  parseRoomAlias,
  parseRoomId,
  parseUserId,
  serverNameOf,
} from '../../../homeserver/matrix/ids.js';

function invalidParam(fn: () => unknown, message: RegExp) {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(MatrixError);
  expect((error as MatrixError).errcode).toBe('M_INVALID_PARAM');
  expect((error as MatrixError).message).toMatch(message);
}

describe('isValidServerName', () => {
  it.each([
    'matrix.org',
    'matrix.org:8888',
    '1.2.3.4',
    '1.2.3.4:1234',
    '[1234:5678::abcd]',
    '[1234:5678::abcd]:5678',
    'localhost',
    'a-b.c0',
    'MATRIX.ORG',
    'host:99999',
  ])('accepts %s', (s) => expect(isValidServerName(s)).toBe(true));

  it.each([
    '',
    ':8448',
    'matrix.org:',
    'matrix.org:123456',
    'matrix.org:80a',
    'mat rix.org',
    'matrix_org',
    'a..b',
    '.matrix.org',
    '256.1.1.1',
    '[1234:5678::abcd',
    '[not-ipv6]',
    '[1:2:3:4:5:6:7:8:9]',
    '[::1]x',
    '1234:5678::abcd',
    'ex\u00e4mple.org',
    'a'.repeat(256),
  ])('rejects %j', (s) => expect(isValidServerName(s)).toBe(false));
});

describe('user id localparts', () => {
  it('isValidUserLocalpart accepts the strict grammar only', () => {
    for (const ok of ['alice', 'a.b_c=d-e/f+g', '0123']) expect(isValidUserLocalpart(ok)).toBe(true);
    for (const bad of ['', 'Alice', 'al ice', 'al:ice', 'al*ice', 'élodie', 'a#b']) expect(isValidUserLocalpart(bad)).toBe(false);
  });

  it('isHistoricalUserLocalpart accepts anything but ":", NUL and lone surrogates', () => {
    for (const ok of ['', 'Alice', 'élodie', 'a b', 'a*b', '😀', '\u0001']) expect(isHistoricalUserLocalpart(ok)).toBe(true);
    for (const bad of ['a:b', 'a\u0000b', '\ud800']) expect(isHistoricalUserLocalpart(bad)).toBe(false);
  });
});

describe('parse functions', () => {
  it('parse valid ids of each kind', () => {
    expect(parseUserId('@alice:example.org')).toBe('@alice:example.org');
    expect(parseUserId('@Old.User:example.org:8448')).toBe('@Old.User:example.org:8448');
    expect(parseUserId('@a:[::1]:8448')).toBe('@a:[::1]:8448');
    expect(parseRoomId('!abc:example.org')).toBe('!abc:example.org');
    expect(parseRoomAlias('#room:example.org')).toBe('#room:example.org');
    expect(parseEventId('$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg')).toBe('$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg');
    expect(parseEventId('$old:example.org')).toBe('$old:example.org');
  });

  it('reject a wrong sigil', () => {
    invalidParam(() => parseUserId('alice:example.org'), /must start with '@'/);
    invalidParam(() => parseRoomId('#abc:example.org'), /must start with '!'/);
    invalidParam(() => parseRoomAlias('!abc:example.org'), /must start with '#'/);
    invalidParam(() => parseEventId('abc'), /must start with '\$'/);
  });

  it("reject a missing ':'", () => {
    invalidParam(() => parseUserId('@alice'), /missing ':'/);
    invalidParam(() => parseRoomId('!abc'), /missing ':'/);
    invalidParam(() => parseRoomAlias('#abc'), /missing ':'/);
  });

  it('reject a bad server name', () => {
    invalidParam(() => parseUserId('@alice:bad_server'), /bad server name/);
    invalidParam(() => parseRoomId('!abc:'), /bad server name/);
  });

  it('reject ids over 255 bytes, counting UTF-8 bytes', () => {
    const server = ':example.org';
    expect(parseUserId(`@${'a'.repeat(255 - 1 - server.length)}${server}`)).toHaveLength(255);
    invalidParam(() => parseUserId(`@${'a'.repeat(256 - 1 - server.length)}${server}`), /255 bytes/);
    invalidParam(() => parseRoomAlias(`#${'é'.repeat(122)}${server}`), /255 bytes/); // 244 chars, 256 bytes
    invalidParam(() => parseEventId(`$${'a'.repeat(255)}`), /255 bytes/);
  });

  it('reject empty localparts except for historical user ids', () => {
    expect(parseUserId('@:example.org')).toBe('@:example.org');
    invalidParam(() => parseRoomId('!:example.org'), /empty localpart/);
    invalidParam(() => parseRoomAlias('#:example.org'), /empty localpart/);
    invalidParam(() => parseEventId('$'), /empty/);
  });

  it('reject NUL in ids', () => {
    invalidParam(() => parseUserId('@a\u0000b:example.org'), /NUL/);
    invalidParam(() => parseEventId('$a\u0000b'), /NUL/);
  });
});

describe('parts and builders', () => {
  it('localpartOf and serverNameOf split at the first colon', () => {
    expect(localpartOf('@alice:example.org:8448')).toBe('alice');
    expect(serverNameOf('@alice:example.org:8448')).toBe('example.org:8448');
    expect(serverNameOf('!r:[::1]')).toBe('[::1]');
    invalidParam(() => serverNameOf('$abc'), /no server name/);
  });

  it('makeUserId and makeRoomAlias validate what they build', () => {
    expect(makeUserId('alice', 'example.org')).toBe('@alice:example.org');
    expect(makeRoomAlias('room', 'example.org')).toBe('#room:example.org');
    invalidParam(() => makeUserId('a:b', 'example.org'), /bad server name|NUL/);
    invalidParam(() => makeRoomAlias('room', 'bad server'), /bad server name/);
  });

  it('generateRoomId makes ! + 18 alphanumerics + :server, distinct each time', () => {
    const a = generateRoomId('example.org');
    expect(a).toMatch(/^![A-Za-z0-9]{18}:example\.org$/);
    expect(generateRoomId('example.org')).not.toBe(a);
  });

  it('generateOpaqueId returns the requested length from the alphanumeric alphabet', () => {
    expect(generateOpaqueId(0)).toBe('');
    expect(generateOpaqueId(1000)).toMatch(/^[A-Za-z0-9]{1000}$/);
    expect(() => generateOpaqueId(-1)).toThrow(RangeError);
  });
});
