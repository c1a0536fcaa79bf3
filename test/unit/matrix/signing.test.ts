import { describe, expect, it } from 'vitest';
import type { UnsignedPdu } from '../../../homeserver/matrix/pdu.js';
import { redactEvent } from '../../../homeserver/matrix/redaction.js';
import {
  generateSigningKey,
  hashAndSignEvent,
  signingKeyFromSeed,
  signJson,
  verifyEventSignature,
  verifyJsonSignature,
} from '../../../homeserver/matrix/signing.js';

// Spec appendix "Cryptographic Test Vectors".
const SEED = Buffer.from('YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1', 'base64');
const key = signingKeyFromSeed(SEED, '1');
const PUBLIC_KEY = 'XGX0JRS2Af3be3knz2fBiRbApjm2Dh61gXDJA8kcJNI';

describe('signing keys', () => {
  it('derives the key id and public key from the seed', () => {
    expect(key.keyId).toBe('ed25519:1');
    expect(key.publicKeyBase64).toBe(PUBLIC_KEY);
    expect(key.seed).toEqual(SEED);
  });

  it('generates distinct keys with a default a_XXXX version', () => {
    const a = generateSigningKey();
    const b = generateSigningKey('auto');
    expect(a.keyId).toMatch(/^ed25519:a_[A-Za-z0-9]{4}$/);
    expect(b.keyId).toBe('ed25519:auto');
    expect(a.publicKeyBase64).not.toBe(b.publicKeyBase64);
    expect(signingKeyFromSeed(a.seed, 'x').publicKeyBase64).toBe(a.publicKeyBase64);
  });

  it('rejects seeds that are not 32 bytes and bad versions', () => {
    expect(() => signingKeyFromSeed(Buffer.alloc(31), '1')).toThrow(RangeError);
    expect(() => signingKeyFromSeed(SEED, 'a:b')).toThrow(RangeError);
  });
});

describe('signJson (spec vectors)', () => {
  it('signs the empty object', () => {
    expect(signJson({}, 'domain', key)).toEqual({
      signatures: { domain: { 'ed25519:1': 'K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ' } },
    });
  });

  it('signs an object with data values', () => {
    expect(signJson({ one: 1, two: 'Two' }, 'domain', key)).toEqual({
      one: 1,
      signatures: { domain: { 'ed25519:1': 'KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw' } },
      two: 'Two',
    });
  });

  it('ignores unsigned and existing signatures, keeps both, and does not modify the input', () => {
    const input = { one: 1, two: 'Two', unsigned: { age_ts: 5 }, signatures: { other: { 'ed25519:z': 'abc' } } };
    const signed = signJson(input, 'domain', key);
    expect(signed.signatures).toEqual({
      other: { 'ed25519:z': 'abc' },
      domain: { 'ed25519:1': 'KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw' },
    });
    expect(signed.unsigned).toEqual({ age_ts: 5 });
    expect(input.signatures).toEqual({ other: { 'ed25519:z': 'abc' } });
  });
});

describe('verifyJsonSignature', () => {
  const signed = signJson({ one: 1, two: 'Two' }, 'domain', key);

  it('verifies a valid signature, also with a URL-safe or padded public key', () => {
    expect(verifyJsonSignature(signed, 'domain', 'ed25519:1', PUBLIC_KEY)).toBe(true);
    expect(verifyJsonSignature({ ...signed, unsigned: { x: 1 } }, 'domain', 'ed25519:1', PUBLIC_KEY)).toBe(true);
    expect(verifyJsonSignature(signed, 'domain', 'ed25519:1', Buffer.from(PUBLIC_KEY, 'base64').toString('base64url'))).toBe(true);
    expect(verifyJsonSignature(signed, 'domain', 'ed25519:1', `${PUBLIC_KEY}=`)).toBe(true);
  });

  it('rejects altered data, another key, a missing signature and malformed input', () => {
    expect(verifyJsonSignature({ ...signed, two: 'Three' }, 'domain', 'ed25519:1', PUBLIC_KEY)).toBe(false);
    expect(verifyJsonSignature(signed, 'domain', 'ed25519:1', generateSigningKey().publicKeyBase64)).toBe(false);
    expect(verifyJsonSignature(signed, 'other', 'ed25519:1', PUBLIC_KEY)).toBe(false);
    expect(verifyJsonSignature(signed, 'domain', 'ed25519:2', PUBLIC_KEY)).toBe(false);
    expect(verifyJsonSignature(signed, 'domain', 'ed25519:1', 'short')).toBe(false);
    expect(verifyJsonSignature({ ...signed, signatures: { domain: { 'ed25519:1': '!!' } } }, 'domain', 'ed25519:1', PUBLIC_KEY)).toBe(
      false,
    );
    expect(verifyJsonSignature({ ...signed, f: 1.5 }, 'domain', 'ed25519:1', PUBLIC_KEY)).toBe(false);
  });
});

describe('hashAndSignEvent (spec event-signing vectors, which predate v11 and keep `origin`: v10 rules)', () => {
  it('signs the minimal event', () => {
    const event = {
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
    const signed = hashAndSignEvent(event as unknown as UnsignedPdu, '10', 'domain', key);
    expect(signed).toEqual({
      auth_events: [],
      content: {},
      depth: 3,
      hashes: { sha256: '5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos' },
      origin: 'domain',
      origin_server_ts: 1000000,
      prev_events: [],
      room_id: '!x:domain',
      sender: '@a:domain',
      signatures: { domain: { 'ed25519:1': 'KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZlHi5KLjAWbOoMszkwsQma+lYAg' } },
      type: 'X',
      unsigned: { age_ts: 1000000 },
    });
  });

  it('signs the event with redactable content', () => {
    const event = {
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
    const signed = hashAndSignEvent(event as unknown as UnsignedPdu, '10', 'domain', key);
    expect(signed).toEqual({
      ...event,
      hashes: { sha256: 'onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g' },
      signatures: { domain: { 'ed25519:1': 'Wm+VzmOUOz08Ds+0NTWb1d4CZrVsJSikkeRxh6aCcUwu6pNC78FunoD7KNWzqFn241eYHYMGCA5McEiVPdhzBA' } },
    });
  });
});

describe('hashAndSignEvent in v11', () => {
  const event: UnsignedPdu = {
    room_id: '!r:example.org',
    sender: '@u:example.org',
    type: 'm.room.message',
    content: { body: 'hello', msgtype: 'm.text' },
    origin_server_ts: 1_700_000_000_000,
    prev_events: ['$p'],
    auth_events: ['$a'],
    depth: 3,
  };
  const signed = hashAndSignEvent(event, '11', 'example.org', key);

  it('signs the redacted form, so the signature holds for the full event and a redacted copy', () => {
    expect(verifyEventSignature(signed, '11', 'example.org', 'ed25519:1', PUBLIC_KEY)).toBe(true);
    expect(verifyEventSignature(redactEvent(signed, '11'), '11', 'example.org', 'ed25519:1', PUBLIC_KEY)).toBe(true);
    expect(verifyJsonSignature(redactEvent(signed, '11'), 'example.org', 'ed25519:1', PUBLIC_KEY)).toBe(true);
  });

  it('covers the essential keys, not the content (which the hash covers)', () => {
    expect(verifyEventSignature({ ...signed, depth: 4 }, '11', 'example.org', 'ed25519:1', PUBLIC_KEY)).toBe(false);
    expect(verifyEventSignature({ ...signed, content: { body: 'edited' } }, '11', 'example.org', 'ed25519:1', PUBLIC_KEY)).toBe(true);
  });

  it('does not modify its input', () => {
    expect(event).not.toHaveProperty('hashes');
    expect(event).not.toHaveProperty('signatures');
  });
});
