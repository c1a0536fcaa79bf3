import { twoProcesses } from '../../helpers/two-processes.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../../homeserver/platform.js';
import { call, makeUser, type TestUser } from '../../helpers/platform.js';

/**
 * Sync keeps one-time/fallback key counts in memory (sync/otk-counts.ts) and drops them on every
 * change: uploads and claims in this process at once, changes made by another process through
 * Redis pub/sub. A stale count is an E2EE bug (a client that believes it has keys stops uploading
 * and its peers cannot start sessions), so every change path is checked against both processes.
 */
let a: Platform;
let b: Platform;
let alice: TestUser;
let bob: TestUser;
let keyNo = 0;

const otks = (n: number) =>
  Object.fromEntries(Array.from({ length: n }, () => [`signed_curve25519:k${++keyNo}`, { key: `key${keyNo}`, signatures: {} }]));
const counts = async (p: Platform, u: TestUser) => {
  const res = await call(p, u, 'GET', '/_matrix/client/v3/sync?timeout=0');
  expect(res.status).toBe(200);
  return { otk: res.body.device_one_time_keys_count, fallback: res.body.device_unused_fallback_key_types };
};
const claim = (p: Platform, by: TestUser, target: TestUser) =>
  call(p, by, 'POST', '/_matrix/client/v3/keys/claim', {
    one_time_keys: { [target.userId]: { [target.deviceId]: 'signed_curve25519' } },
  });
/** Polls process p until its sync reports `expected` one-time keys (other processes learn through Redis). */
async function eventually(p: Platform, u: TestUser, expected: number) {
  let last: unknown;
  for (let i = 0; i < 100; i++) {
    last = (await counts(p, u)).otk?.signed_curve25519;
    if (last === expected) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  expect(last).toBe(expected);
}

let cluster: Awaited<ReturnType<typeof twoProcesses>> | undefined;

beforeAll(async () => {
  cluster = await twoProcesses('otkcache');
  ({ a, b } = cluster);
  alice = await makeUser(a, 'alice');
  bob = await makeUser(a, 'bob');
});
afterAll(async () => {
  await cluster?.close();
});

describe('one-time key counts in sync (cached per device, dropped on every change)', () => {
  it('an upload is seen at once by the same process, and by the other process once told', async () => {
    expect((await counts(a, alice)).otk).toEqual({ signed_curve25519: 0 });
    expect((await counts(b, alice)).otk).toEqual({ signed_curve25519: 0 }); // both now hold 0 in memory
    expect((await call(a, alice, 'POST', '/_matrix/client/v3/keys/upload', { one_time_keys: otks(5) })).status).toBe(200);
    expect((await counts(a, alice)).otk).toEqual({ signed_curve25519: 5 });
    await eventually(b, alice, 5);
  });

  it('a claim in either process lowers the count everywhere, down to the fallback key', async () => {
    expect((await claim(a, bob, alice)).status).toBe(200);
    expect((await counts(a, alice)).otk.signed_curve25519).toBe(4);
    await eventually(b, alice, 4);
    expect((await claim(b, bob, alice)).status).toBe(200);
    expect((await counts(b, alice)).otk.signed_curve25519).toBe(3);
    await eventually(a, alice, 3);

    expect(
      (
        await call(a, alice, 'POST', '/_matrix/client/v3/keys/upload', {
          fallback_keys: { 'signed_curve25519:fb': { key: 'fallback', fallback: true, signatures: {} } },
        })
      ).status,
    ).toBe(200);
    expect((await counts(a, alice)).fallback).toEqual(['signed_curve25519']);
    for (let i = 0; i < 3; i++) await claim(b, bob, alice);
    await eventually(a, alice, 0);
    // The fallback key was still unused until now: this claim uses it, and both processes must stop listing it.
    expect(Object.keys((await claim(b, bob, alice)).body.one_time_keys[alice.userId][alice.deviceId])).toEqual(['signed_curve25519:fb']);
    expect((await counts(b, alice)).fallback).toEqual([]);
    for (let i = 0; i < 100 && (await counts(a, alice)).fallback.length; i++) await new Promise((r) => setTimeout(r, 20));
    expect((await counts(a, alice)).fallback).toEqual([]);
  });

  it('a device id reused by a new login after logout does not inherit the old counts', async () => {
    const carol = await makeUser(a, 'carol');
    await call(a, carol, 'POST', '/_matrix/client/v3/keys/upload', { one_time_keys: otks(7) });
    expect((await counts(a, carol)).otk.signed_curve25519).toBe(7);
    await eventually(b, carol, 7);
    expect((await call(b, carol, 'POST', '/_matrix/client/v3/logout', {})).status).toBe(200);
    const login = await a.app.inject({
      method: 'POST',
      url: '/_matrix/client/v3/login',
      payload: {
        type: 'm.login.password',
        identifier: { type: 'm.id.user', user: 'carol' },
        password: 'correct horse battery',
        device_id: carol.deviceId,
      },
    });
    expect(login.statusCode).toBe(200);
    const again: TestUser = {
      ...carol,
      accessToken: login.json().access_token,
      auth: { authorization: `Bearer ${login.json().access_token}` },
    };
    await eventually(a, again, 0);
    await eventually(b, again, 0);
  });
});
