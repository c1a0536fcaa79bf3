import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../../homeserver/platform.js';
import { registerInprocAppservice } from '../../../appservice-api/transports/inproc.js';
import type { TransactionBody } from '../../../appservice-api/transports/transport.js';
import { buildPlatform, call, enc, makeUser, type TestUser } from '../../helpers/platform.js';
import { createRoom, FakeAppservice, registration, registrationFile, roomEventIds, sendMessages, waitFor } from './delivery-helpers.js';

let p: Platform;
const order = new FakeAppservice();
const outage = new FakeAppservice();
const hang = new FakeAppservice();
const fast = new FakeAppservice();
const eph = new FakeAppservice();
const inprocTxns: { txnId: string; body: TransactionBody }[] = [];
const unregister = registerInprocAppservice('delivery-test', {
  onTransaction: (txnId, body) => void inprocTxns.push({ txnId, body }),
});
const users: Record<string, TestUser> = {};

beforeAll(async () => {
  await Promise.all([order.start(), outage.start(), hang.start(), fast.start(), eph.start()]);
  const files = [
    registrationFile(registration('order', order.url, '@alice_order:test\\.local')),
    registrationFile(registration('outage', outage.url, '@alice_outage:test\\.local')),
    registrationFile(registration('hang', hang.url, '@alice_hang:test\\.local')),
    registrationFile(registration('fast', fast.url, '@alice_fast:test\\.local')),
    registrationFile(registration('inproc', 'inproc://delivery-test', '@alice_inproc:test\\.local')),
    registrationFile(registration('eph', eph.url, '@alice_eph:test\\.local', { receive_ephemeral: true })),
    registrationFile(registration('unreachable', 'http://127.0.0.1:1', '@nobody_unreachable:test\\.local')),
  ];
  p = await buildPlatform({ appservices: { registration_files: files } });
  for (const name of ['order', 'outage', 'hang', 'fast', 'inproc', 'eph', 'other']) users[name] = await makeUser(p, `alice_${name}`);
  await waitFor(() => ['order', 'outage', 'hang', 'fast', 'inproc', 'eph'].every((id) => p.delivery!.loop(id)?.position !== undefined));
}, 30_000);

afterAll(async () => {
  unregister();
  await p?.close();
  await Promise.all([order.close(), outage.close(), hang.close(), fast.close(), eph.close()]);
});

describe('appservice delivery', () => {
  it('delivers every interesting event once, in order, with the hs_token', async () => {
    const room = await createRoom(p, users.order!);
    const sent = await sendMessages(p, users.order!, room, 30);
    // Another user's room the appservice has no interest in.
    const otherRoom = await createRoom(p, users.other!);
    const unrelated = await sendMessages(p, users.other!, otherRoom, 5);
    const expected = await roomEventIds(p, room);
    expect(expected.slice(-30)).toEqual(sent);
    await waitFor(() => order.deliveredIds.length >= expected.length, 15_000, 'delivery');
    await new Promise((r) => setTimeout(r, 100));
    expect(order.deliveredIds).toEqual(expected);
    expect(order.attempts.every((a) => a.status === 200)).toBe(true);
    expect(new Set(order.attempts.map((a) => a.txnId)).size).toBe(order.attempts.length);
    expect(order.attempts.every((a) => a.authorization === 'Bearer order-hs-token')).toBe(true);
    expect(order.deliveredIds.some((id) => unrelated.includes(id))).toBe(false);
    const first = order.attempts[0]!.body.events as Record<string, unknown>[];
    expect(first[0]).toMatchObject({ room_id: room, sender: users.order!.userId, type: 'm.room.create' });
    expect(first[0]).not.toHaveProperty('signatures');
    expect(order.attempts.every((a) => a.eventIds.length <= 100)).toBe(true);
  });

  it('an appservice down then up receives every event once in order, in full batches, duplicates only as re-sent txnIds', async () => {
    const room = await createRoom(p, users.outage!);
    await waitFor(async () => outage.deliveredIds.length === (await roomEventIds(p, room)).length, 15_000, 'room creation');
    outage.mode = 'fail';
    const sent = await sendMessages(p, users.outage!, room, 250);
    await waitFor(() => outage.attempts.filter((a) => a.status === 503).length >= 3, 15_000, 'failures');
    const failedBefore = outage.attempts.filter((a) => a.status === 503);
    outage.mode = 'ok';
    const expected = await roomEventIds(p, room);
    await waitFor(() => outage.deliveredIds.length >= expected.length, 20_000, 'catch-up');
    await new Promise((r) => setTimeout(r, 100));
    expect(outage.deliveredIds).toEqual(expected);
    // Every retry re-sent the same txnId with the same events.
    const byTxn = new Map<string, string[]>();
    for (const a of outage.attempts) {
      const prev = byTxn.get(a.txnId);
      if (prev) expect(a.eventIds).toEqual(prev);
      else byTxn.set(a.txnId, a.eventIds);
    }
    expect(new Set(failedBefore.map((a) => a.txnId)).size).toBe(1);
    // Catch-up after the outage: the retried transaction, then full batches of 100.
    const retried = failedBefore[0]!.txnId;
    const after = outage.accepted.slice(outage.accepted.findIndex((t) => t.txnId === retried) + 1);
    const sizes = after.map((t) => t.eventIds.length);
    const backlog = sent.length - failedBefore[0]!.eventIds.length;
    expect(sizes.slice(0, Math.floor(backlog / 100))).toEqual(Array(Math.floor(backlog / 100)).fill(100));
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(backlog);
    const m = await p.delivery!.metrics.registry.getSingleMetricAsString('causeway_appservice_transaction_failures_total');
    expect(m).toMatch(/appservice="outage"} [1-9]/);
  }, 40_000);

  it('delivers in process through inproc://', async () => {
    const room = await createRoom(p, users.inproc!);
    await sendMessages(p, users.inproc!, room, 10);
    const expected = await roomEventIds(p, room);
    const got = () => inprocTxns.flatMap((t) => t.body.events.map((e) => (e as { event_id: string }).event_id));
    await waitFor(() => got().length >= expected.length, 15_000, 'inproc delivery');
    expect(got()).toEqual(expected);
  });

  it('one hanging appservice does not delay another', async () => {
    hang.mode = 'hang';
    const hangRoom = await createRoom(p, users.hang!);
    await sendMessages(p, users.hang!, hangRoom, 3);
    await waitFor(() => hang.attempts.length > 0, 15_000, 'the hanging transaction');
    const room = await createRoom(p, users.fast!);
    const started = Date.now();
    await sendMessages(p, users.fast!, room, 5);
    const expected = await roomEventIds(p, room);
    await waitFor(() => fast.deliveredIds.length >= expected.length, 15_000, 'fast delivery');
    expect(fast.deliveredIds).toEqual(expected);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(hang.accepted).toHaveLength(0);
  });

  it('sends typing and receipts to appservices with receive_ephemeral (MSC2409)', async () => {
    const alice = users.eph!;
    const room = await createRoom(p, alice);
    const [msg] = await sendMessages(p, alice, room, 1);
    const typing = await call(p, alice, 'PUT', `/_matrix/client/v3/rooms/${enc(room)}/typing/${enc(alice.userId)}`, {
      typing: true,
      timeout: 30_000,
    });
    expect(typing.status).toBe(200);
    const receipt = await call(p, alice, 'POST', `/_matrix/client/v3/rooms/${enc(room)}/receipt/m.read/${enc(msg!)}`, {});
    expect(receipt.status).toBe(200);
    const ephemeral = () => eph.accepted.flatMap((t) => (t.body['de.sorunome.msc2409.ephemeral'] as Record<string, unknown>[]) ?? []);
    await waitFor(
      () => ephemeral().some((e) => e.type === 'm.typing') && ephemeral().some((e) => e.type === 'm.receipt'),
      15_000,
      'ephemeral',
    );
    expect(ephemeral()).toContainEqual({ type: 'm.typing', room_id: room, content: { user_ids: [alice.userId] } });
    const r = ephemeral().find((e) => e.type === 'm.receipt') as { room_id: string; content: Record<string, any> };
    expect(r.room_id).toBe(room);
    expect(r.content[msg!]['m.read'][alice.userId]).toHaveProperty('ts');
    // Appservices without receive_ephemeral get no ephemeral section.
    expect(order.attempts.some((a) => 'de.sorunome.msc2409.ephemeral' in a.body)).toBe(false);
  });

  it('queries the appservice owning a user or alias namespace', async () => {
    const d = p.delivery!;
    expect(await d.queryUser('@alice_order:test.local')).toBe(false);
    expect(order.queries).toContain('users:@alice_order:test.local');
    expect(await d.queryUser('@outside:test.local')).toBe(false);
    expect(order.queries).not.toContain('users:@outside:test.local');
    expect(await d.queryAlias('#known:test.local')).toBe(false); // no appservice claims aliases here
  });

  it('ping (MSC2659)', async () => {
    const r = await p.app.inject({
      method: 'POST',
      url: '/_matrix/client/v1/appservice/order/ping',
      headers: { authorization: 'Bearer order-as-token' },
      payload: { transaction_id: 'ping-1' },
    });
    expect(r.statusCode).toBe(200);
    expect(typeof r.json().duration_ms).toBe('number');
    expect(order.pings).toContainEqual({ transaction_id: 'ping-1' });

    const wrong = await p.app.inject({
      method: 'POST',
      url: '/_matrix/client/v1/appservice/outage/ping',
      headers: { authorization: 'Bearer order-as-token' },
      payload: {},
    });
    expect(wrong.statusCode).toBe(403);
    expect(wrong.json().errcode).toBe('M_FORBIDDEN');

    const down = await p.app.inject({
      method: 'POST',
      url: '/_matrix/client/v1/appservice/unreachable/ping',
      headers: { authorization: 'Bearer unreachable-as-token' },
      payload: {},
    });
    expect(down.statusCode).toBe(502);
    expect(down.json().errcode).toBe('M_CONNECTION_FAILED');

    const anon = await call(p, undefined, 'POST', '/_matrix/client/v1/appservice/order/ping', {});
    expect(anon.status).toBe(401);
  });
});
