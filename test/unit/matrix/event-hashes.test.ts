import { describe, expect, it } from 'vitest';
import {
  computeContentHash,
  computeEventId,
  computeReferenceHash,
  decodeBase64,
  unpaddedBase64,
  urlSafeUnpaddedBase64,
  verifyContentHash,
} from '../../../homeserver/matrix/event-hashes.js';

/**
 * A v10/v11 member event. The expected hash and ids were computed independently with Python
 * (hashlib + json.dumps(sort_keys=True, ensure_ascii=False, separators=(',', ':')), the spec's
 * reference encoder) following the spec's content-hash, redaction and reference-hash steps.
 */
const memberEvent = {
  auth_events: ['$createAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', '$plBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB'],
  content: { membership: 'join', displayname: 'Alice 日本', avatar_url: 'mxc://example.org/abc' },
  depth: 5,
  origin: 'example.org',
  origin_server_ts: 1700000000000,
  prev_events: ['$prevCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC'],
  room_id: '!room:example.org',
  sender: '@alice:example.org',
  state_key: '@alice:example.org',
  type: 'm.room.member',
  unsigned: { age: 10 },
};
const CONTENT_HASH = 'ZXYGL5kECGUdBiet+VNoh7WAHNe2EO7M2Lsoa0vXcgU';
const hashed = { ...memberEvent, hashes: { sha256: CONTENT_HASH }, signatures: { 'example.org': { 'ed25519:x': 'sig' } } };

describe('content hash', () => {
  it('matches the independently computed hash of a known event', () => {
    expect(computeContentHash(memberEvent)).toBe(CONTENT_HASH);
  });

  it('ignores unsigned, signatures and hashes', () => {
    expect(computeContentHash(hashed)).toBe(CONTENT_HASH);
    expect(computeContentHash({ ...hashed, unsigned: { age: 99 } })).toBe(CONTENT_HASH);
  });

  it('matches the spec appendix event-signing examples', () => {
    const minimal = {
      room_id: '!x:domain',
      sender: '@a:domain',
      origin: 'domain',
      origin_server_ts: 1000000,
      signatures: {},
      hashes: {},
      type: 'X',
      content: {},
      prev_events: [],
      auth_events: [],
      depth: 3,
      unsigned: { age_ts: 1000000 },
    };
    expect(computeContentHash(minimal)).toBe('5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos');
    const message = {
      content: { body: 'Here is the message content' },
      event_id: '$0:domain',
      origin: 'domain',
      origin_server_ts: 1000000,
      type: 'm.room.message',
      room_id: '!r:domain',
      sender: '@u:domain',
      signatures: {},
      unsigned: { age_ts: 1000000 },
    };
    expect(computeContentHash(message)).toBe('onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g');
  });

  it('verifyContentHash accepts the right hash (padded or not) and rejects edits and redacted copies', () => {
    expect(verifyContentHash(hashed)).toBe(true);
    expect(verifyContentHash({ ...hashed, hashes: { sha256: `${CONTENT_HASH}=` } })).toBe(true);
    expect(verifyContentHash({ ...hashed, content: { ...hashed.content, displayname: 'Mallory' } })).toBe(false);
    expect(verifyContentHash({ ...hashed, content: { membership: 'join' } })).toBe(false);
    expect(verifyContentHash({ ...hashed, hashes: {} })).toBe(false);
    expect(verifyContentHash({ ...hashed, hashes: { sha256: 'not base64!' } })).toBe(false);
  });
});

describe('reference hash and event id', () => {
  it('gives the independently computed ids for v10 and v11 (they differ: v11 redacts `origin`)', () => {
    expect(computeEventId(hashed, '10')).toBe('$OemT5ph-uOo2x_IoPx5vJg8bAzVuyVsR1EiY229QJ3g');
    expect(computeEventId(hashed, '11')).toBe('$IXwTZCNm7vhrXURwAZi4f7dlv1pJvBVe02GPug9Ottc');
  });

  it('does not change when the event is redacted, re-signed or given unsigned data', () => {
    const id = computeEventId(hashed, '11');
    expect(computeEventId({ ...hashed, content: { membership: 'join' } }, '11')).toBe(id);
    expect(computeEventId({ ...hashed, signatures: {}, unsigned: { age: 1 } }, '11')).toBe(id);
  });

  it('changes when the content hash does', () => {
    expect(computeEventId({ ...hashed, hashes: { sha256: 'other' } }, '11')).not.toBe(computeEventId(hashed, '11'));
  });

  it('is $ + URL-safe unpadded base64 of the 32-byte reference hash', () => {
    const ref = computeReferenceHash(hashed, '11');
    expect(ref).toHaveLength(32);
    expect(computeEventId(hashed, '11')).toBe(`$${urlSafeUnpaddedBase64(ref)}`);
    expect(computeEventId(hashed, '11')).toMatch(/^\$[A-Za-z0-9_-]{43}$/);
  });
});

describe('base64 helpers', () => {
  it('encode unpadded per the spec appendix examples', () => {
    const cases: [string, string][] = [
      ['', ''],
      ['f', 'Zg'],
      ['fo', 'Zm8'],
      ['foo', 'Zm9v'],
      ['foob', 'Zm9vYg'],
      ['fooba', 'Zm9vYmE'],
      ['foobar', 'Zm9vYmFy'],
    ];
    for (const [raw, b64] of cases) expect(unpaddedBase64(Buffer.from(raw))).toBe(b64);
    expect(urlSafeUnpaddedBase64(Buffer.from([0xfb, 0xff]))).toBe('-_8');
  });

  it('decode standard or URL-safe input, padded or not, and reject garbage', () => {
    expect(decodeBase64('Zm9vYg')?.toString()).toBe('foob');
    expect(decodeBase64('Zm9vYg==')?.toString()).toBe('foob');
    expect(decodeBase64('-_8')).toEqual(Buffer.from([0xfb, 0xff]));
    expect(decodeBase64('+/8')).toEqual(Buffer.from([0xfb, 0xff]));
    expect(decodeBase64('a b')).toBeUndefined();
    expect(decodeBase64('Zm9vY')).toBeUndefined();
  });
});
