import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../../homeserver/platform.js';
import { buildPlatform, call, enc, makeUser, type TestUser } from '../../helpers/platform.js';
import { deviceKeysOf, oneTimeKeys } from '../e2e/e2e-fixtures.js';
import { FakeAppservice, registration, registrationFile, waitFor, type RecordedTxn } from './delivery-helpers.js';

/**
 * What reaches appservices besides room events, over real HTTP: MSC2409 ephemeral events
 * (receipts, typing — including a notice that times out — and presence) and to-device messages
 * for `receive_ephemeral`, MSC3202 device list changes and one-time-key counts for
 * `org.matrix.msc3202`, all durable like events (a failed transaction is re-sent as it was).
 */
let p: Platform;
let human: TestUser;
let ghost: TestUser;
let roomId: string;
const crypto = new FakeAppservice(); // receive_ephemeral + org.matrix.msc3202
const plain = new FakeAppservice(); // receive_ephemeral only
const silent = new FakeAppservice(); // neither

const TO_DEVICE = 'de.sorunome.msc2409.to_device';
const EPHEMERAL = 'de.sorunome.msc2409.ephemeral';
const DEVICE_LISTS = 'org.matrix.msc3202.device_lists';
const OTK = 'org.matrix.msc3202.device_one_time_keys_count';
const FALLBACK = 'org.matrix.msc3202.device_unused_fallback_key_types';

const sections = (as: FakeAppservice, key: string) =>
  as.accepted.flatMap((t) => ((t.body[key] as unknown[] | undefined) ?? []) as Record<string, any>[]);

beforeAll(async () => {
  await Promise.all([crypto.start(), plain.start(), silent.start()]);
  const files = [
    registrationFile(
      registration('crypto', crypto.url, '@crypto_.*:test\\.local', { receive_ephemeral: true, 'org.matrix.msc3202': true }),
    ),
    registrationFile(registration('plain', plain.url, '@crypto_.*:test\\.local', { 'de.sorunome.msc2409.push_ephemeral': true })),
    registrationFile(registration('silent', silent.url, '@crypto_.*:test\\.local')),
  ];
  p = await buildPlatform({ appservices: { registration_files: files } });
  await waitFor(() => ['crypto', 'plain', 'silent'].every((id) => p.delivery!.loop(id)?.position !== undefined));
  human = await makeUser(p, 'human');
  const AS = { userId: '', deviceId: '', accessToken: 'crypto-as-token', auth: { authorization: 'Bearer crypto-as-token' } };
  const reg = await call(p, AS, 'POST', '/_matrix/client/v3/register', { type: 'm.login.application_service', username: 'crypto_ghost' });
  expect(reg.status).toBe(200);
  ghost = {
    userId: reg.body.user_id,
    deviceId: reg.body.device_id,
    accessToken: reg.body.access_token,
    auth: { authorization: `Bearer ${reg.body.access_token}` },
  };
  roomId = (await call(p, human, 'POST', '/_matrix/client/v3/createRoom', { preset: 'public_chat' })).body.room_id;
  expect((await call(p, ghost, 'POST', `/_matrix/client/v3/join/${enc(roomId)}`, {})).status).toBe(200);
  // The ghost's device has keys: 3 one-time keys and a fallback key.
  const device = deviceKeysOf(ghost);
  const up = await call(p, ghost, 'POST', '/_matrix/client/v3/keys/upload', {
    device_keys: device.deviceKeys,
    one_time_keys: oneTimeKeys(ghost, device, 3),
    fallback_keys: oneTimeKeys(ghost, device, 1, 'fb'),
  });
  expect(up.status, JSON.stringify(up.body)).toBe(200);
}, 30_000);

afterAll(async () => {
  await p?.close();
  await Promise.all([crypto.close(), plain.close(), silent.close()]);
});

describe('MSC2409 to-device and MSC3202 in transactions', () => {
  it('delivers to-device messages for the namespace’s devices, with one-time-key counts for msc3202', async () => {
    const sent = await call(p, human, 'PUT', '/_matrix/client/v3/sendToDevice/m.test.ping/td1', {
      messages: { [ghost.userId]: { [ghost.deviceId]: { n: 1 } }, [human.userId]: { '*': { n: 2 } } },
    });
    expect(sent.status).toBe(200);
    const expected = {
      type: 'm.test.ping',
      sender: human.userId,
      content: { n: 1 },
      to_user_id: ghost.userId,
      to_device_id: ghost.deviceId,
    };
    await waitFor(() => sections(crypto, TO_DEVICE).length > 0 && sections(plain, TO_DEVICE).length > 0, 15_000, 'to-device');
    expect(sections(crypto, TO_DEVICE)).toEqual([expected]); // the human's own device is not the appservice's
    expect(sections(plain, TO_DEVICE)).toEqual([expected]);
    const withToDevice = crypto.accepted.find((t) => t.body[TO_DEVICE])!;
    expect(withToDevice.body[OTK]).toEqual({ [ghost.userId]: { [ghost.deviceId]: { signed_curve25519: 3 } } });
    expect(withToDevice.body[FALLBACK]).toEqual({ [ghost.userId]: { [ghost.deviceId]: ['signed_curve25519'] } });
    expect(plain.accepted.some((t) => t.body[OTK])).toBe(false);
    expect(silent.attempts.some((t) => t.body[TO_DEVICE])).toBe(false);
  });

  it('reports device list changes of users sharing a room with its users (msc3202 only)', async () => {
    const device = deviceKeysOf(human);
    expect((await call(p, human, 'POST', '/_matrix/client/v3/keys/upload', { device_keys: device.deviceKeys })).status).toBe(200);
    const listsWith = (userId: string) =>
      crypto.accepted
        .map((t) => t.body[DEVICE_LISTS] as { changed: string[]; left: string[] } | undefined)
        .find((l) => l?.changed.includes(userId));
    await waitFor(() => !!listsWith(human.userId), 15_000, 'device lists');
    expect(listsWith(human.userId)!.left).toEqual([]);
    // The ghost's own upload (before this test) was reported too.
    expect(listsWith(ghost.userId)).toBeDefined();
    // A stranger sharing no room with the namespace is nobody's business.
    const stranger = await makeUser(p, 'stranger');
    expect(
      (await call(p, stranger, 'POST', '/_matrix/client/v3/keys/upload', { device_keys: deviceKeysOf(stranger).deviceKeys })).status,
    ).toBe(200);
    await call(p, human, 'PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/dl1`, { msgtype: 'm.text', body: 'flush' });
    await waitFor(() => crypto.deliveredIds.length > 0 && crypto.accepted.at(-1)!.eventIds.length > 0, 15_000, 'flush');
    const allChanged = crypto.accepted.flatMap((t) => (t.body[DEVICE_LISTS] as { changed: string[] } | undefined)?.changed ?? []);
    expect(allChanged).not.toContain(stranger.userId);
    expect(plain.accepted.some((t) => t.body[DEVICE_LISTS])).toBe(false);
  });
});

describe('MSC2409 ephemeral events', () => {
  it('announces presence of users sharing a room with its users', async () => {
    expect(
      (await call(p, human, 'PUT', `/_matrix/client/v3/presence/${enc(human.userId)}/status`, { presence: 'online', status_msg: 'hi' }))
        .status,
    ).toBe(200);
    await waitFor(() => sections(plain, EPHEMERAL).some((e) => e.type === 'm.presence'), 15_000, 'presence');
    const presence = sections(plain, EPHEMERAL).find((e) => e.type === 'm.presence')!;
    expect(presence).toMatchObject({ sender: human.userId, content: { presence: 'online', status_msg: 'hi' } });
  });

  it('announces typing, and announces it again when the notice times out', async () => {
    const typing = () => sections(plain, EPHEMERAL).filter((e) => e.type === 'm.typing' && e.room_id === roomId);
    const r = await call(p, human, 'PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/typing/${enc(human.userId)}`, {
      typing: true,
      timeout: 400,
    });
    expect(r.status).toBe(200);
    await waitFor(() => typing().some((e) => e.content.user_ids.includes(human.userId)), 15_000, 'typing');
    // No further request: the timeout alone must reach the appservice as a set without the user.
    await waitFor(() => typing().at(-1)!.content.user_ids.length === 0, 15_000, 'typing timeout');
    expect(typing().at(-1)).toEqual({ type: 'm.typing', room_id: roomId, content: { user_ids: [] } });
  });

  it('a failed transaction is re-sent with the same txnId and the same to-device section', async () => {
    // Start from an idle loop, so the message opens a transaction of its own: the previous test's
    // typing timeout reaches this appservice too (maybe after `plain`), and a transaction opened for
    // it just before the failures start would be the one re-sent, without the to-device message.
    const typingEnded = () =>
      sections(crypto, EPHEMERAL)
        .filter((e) => e.type === 'm.typing' && e.room_id === roomId)
        .at(-1)?.content.user_ids.length === 0;
    await waitFor(typingEnded, 15_000, 'typing timeout at crypto');
    await waitFor(
      async () =>
        (
          await p.db.query<{ pending: string | null }>(
            "SELECT pending_txn_id AS pending FROM as_delivery_state WHERE appservice_id = 'crypto'",
          )
        ).rows[0]!.pending === null,
      15_000,
      'idle loop',
    );
    crypto.mode = 'fail';
    const before = crypto.attempts.length;
    const sent = await call(p, human, 'PUT', '/_matrix/client/v3/sendToDevice/m.test.ping/td2', {
      messages: { [ghost.userId]: { [ghost.deviceId]: { n: 3 } } },
    });
    expect(sent.status).toBe(200);
    await waitFor(() => crypto.attempts.slice(before).filter((a) => a.body[TO_DEVICE]).length >= 2, 15_000, 'retries');
    crypto.mode = 'ok';
    await waitFor(() => sections(crypto, TO_DEVICE).some((e) => e.content.n === 3), 15_000, 'accepted retry');
    const tries = crypto.attempts
      .slice(before)
      .filter((a) => (a.body[TO_DEVICE] as { content: { n: number } }[] | undefined)?.[0]?.content.n === 3);
    expect(new Set(tries.map((t: RecordedTxn) => t.txnId)).size).toBe(1);
    expect(new Set(tries.map((t) => JSON.stringify(t.body)))).toHaveProperty('size', 1);
    expect(sections(crypto, TO_DEVICE).filter((e) => e.content.n === 3)).toHaveLength(1);
    const { rows } = await p.db.query<{ stream_positions: Record<string, number> }>(
      "SELECT stream_positions FROM as_delivery_state WHERE appservice_id = 'crypto'",
    );
    expect(Object.keys(rows[0]!.stream_positions).sort()).toEqual(['device_lists', 'presence', 'receipts', 'to_device', 'typing']);
  });
});
