import { describe, expect, it } from 'vitest';
import { saveLoginSecrets } from '../../../bridges/core/crypto-store/login-secrets.js';
import type { RemoteEvent } from '../../../bridges/core/network/remote-event.js';
import {
  FakeNetwork,
  FakenetConnector,
  makeChatId,
  makeLoginId,
  PTS_METADATA,
  testLoginContext,
  type FakeConnection,
} from '../../fakes/fakenet/index.js';
import { connectedLogin } from './helpers.js';

/** What a test reads of an emitted event: its type and target, enough to check order. */
const brief = (e: RemoteEvent) => ('targetId' in e ? `${e.type}:${e.targetId}` : e.type === 'message' ? `message:${e.id}` : e.type);

/** A second client of the same login, as a restarted worker builds it from the stored metadata. */
async function restartedClient(net: FakeNetwork, userId: string, token: string, metadata: Record<string, unknown>) {
  const t = testLoginContext({ loginId: makeLoginId(userId), metadata });
  await saveLoginSecrets(t.ctx.keys, { session: new TextEncoder().encode(token) });
  const client = new FakenetConnector(net).loadLogin(t.ctx);
  await client.connect(t.ctx.signal);
  return { t, client };
}

async function rawConnection(net: FakeNetwork, userId: string): Promise<FakeConnection> {
  return net.connect(net.createSession(userId), () => {});
}

describe('the fake network update log', () => {
  it('numbers every non-typing update per account and serves the difference in pages', async () => {
    const net = new FakeNetwork();
    const a = net.addUser({ name: 'A' });
    const b = net.addUser({ name: 'B' });
    const dm = net.dm(a.id, b.id);
    const m = net.send(a.id, dm, 'one');
    net.typing(a.id, dm);
    net.edit(a.id, dm, m, 'one, edited');
    net.react(b.id, dm, m, '👍');
    const conn = await rawConnection(net, b.id);
    expect(await conn.getState()).toEqual({ pts: 3 });
    const page = await conn.getDifference(0, 2);
    expect(page).toMatchObject({ kind: 'updates', pts: 2, final: false });
    if (page.kind !== 'updates') throw new Error('unreachable');
    expect(page.updates.map((u) => [u.pts, u.event.type])).toEqual([
      [1, 'message'],
      [2, 'edit'],
    ]);
    expect(await conn.getDifference(2, 2)).toMatchObject({
      kind: 'updates',
      pts: 3,
      final: true,
      updates: [{ event: { type: 'reaction' } }],
    });
    expect(await conn.getDifference(3)).toEqual({ kind: 'updates', updates: [], pts: 3, final: true });
  });

  it('answers too_long once the account is further behind than the log keeps', async () => {
    const net = new FakeNetwork({ updateLogCapacity: 2 });
    const a = net.addUser({ name: 'A' });
    const b = net.addUser({ name: 'B' });
    const dm = net.dm(a.id, b.id);
    for (let i = 0; i < 4; i++) net.send(a.id, dm, `m${i}`);
    const conn = await rawConnection(net, b.id);
    expect(await conn.getDifference(0)).toEqual({ kind: 'too_long', pts: 4 });
    expect(await conn.getDifference(2)).toMatchObject({ kind: 'updates', pts: 4, final: true });
  });

  it('pushes carry their pts; the acting connection gets an own_update marker instead of its event', async () => {
    const net = new FakeNetwork();
    const a = net.addUser({ name: 'A' });
    const b = net.addUser({ name: 'B' });
    const dm = net.dm(a.id, b.id);
    const seenByA: unknown[] = [];
    const seenByB: unknown[] = [];
    const connA = await net.connect(net.createSession(a.id), (s) => seenByA.push(s));
    await net.connect(net.createSession(b.id), (s) => seenByB.push(s));
    await connA.send(dm, 'hi');
    await net.idle();
    expect(seenByA).toEqual([{ type: 'own_update', pts: 1 }]);
    expect(seenByB).toMatchObject([{ type: 'message', pts: 1 }]);
  });
});

describe('the fakenet client recovers what happened while it was offline', () => {
  it('replays edits, deletes, reactions and messages in order before reporting CONNECTED, once', async () => {
    const { net, me, token, t, client } = await connectedLogin();
    const bob = net.addUser({ name: 'Bob' });
    const dm = net.dm(me.id, bob.id);
    const first = net.send(bob.id, dm, 'first');
    const second = net.send(bob.id, dm, 'second');
    await net.idle();
    await t.nextEvent((e) => e.type === 'message' && e.id === second);
    await client.disconnect();

    net.edit(bob.id, dm, first, 'first, edited');
    net.delete(bob.id, dm, second);
    net.react(bob.id, dm, first, '👍');
    net.unreact(bob.id, dm, first, '👍');
    net.typing(bob.id, dm); // ephemeral: not in the log
    const third = net.send(bob.id, dm, 'third');
    net.markRead(bob.id, dm, third);

    const before = t.events.length;
    const states = t.states.length;
    await client.connect(t.ctx.signal);
    expect(t.events.slice(before).map(brief)).toEqual([
      `edit:${first}`,
      `delete:${second}`,
      `reaction:${first}`,
      `reaction_remove:${first}`,
      `message:${third}`,
      'read_receipt',
    ]);
    expect(t.states.slice(states).map((s) => s.stateEvent)).toEqual(['CONNECTED']);
    await net.idle();
    expect(t.events).toHaveLength(before + 6);
    await eventuallyEqual(() => t.ctx.metadata[PTS_METADATA], net.updates.state(me.id));

    // A restarted client starts from the saved pts: nothing to replay.
    await client.disconnect();
    const again = await restartedClient(net, me.id, token, t.ctx.metadata);
    expect(again.t.events).toEqual([]);
    expect(again.t.states.map((s) => s.stateEvent)).toEqual(['CONNECTED']);
  });

  it('saves only pts the core applied: a failed update is replayed on the next connect, with what followed it', async () => {
    const net = new FakeNetwork();
    const me = net.addUser({ name: 'Me' });
    const bob = net.addUser({ name: 'Bob' });
    const dm = net.dm(me.id, bob.id);
    const token = net.createSession(me.id);
    const t = testLoginContext({ loginId: makeLoginId(me.id), metadata: { [PTS_METADATA]: 0 } });
    // A core that fails the second update and applies everything else.
    let calls = 0;
    const recorded: RemoteEvent[] = [];
    t.ctx.emit = (e, onApplied) => {
      recorded.push(e);
      onApplied?.(++calls !== 2);
    };
    await saveLoginSecrets(t.ctx.keys, { session: new TextEncoder().encode(token) });
    for (const text of ['a', 'b', 'c']) net.send(bob.id, dm, text);
    const client = new FakenetConnector(net).loadLogin(t.ctx);
    await client.connect(t.ctx.signal);
    expect(recorded.map(brief)).toEqual(['message:1', 'message:2', 'message:3']);
    await eventuallyEqual(() => t.ctx.metadata[PTS_METADATA], 1);

    await client.connect(t.ctx.signal); // reconnect: asks again from pts 1
    expect(recorded.map(brief).slice(3)).toEqual(['message:2', 'message:3']);
    await eventuallyEqual(() => t.ctx.metadata[PTS_METADATA], 3);
  });

  it("counts the client's own actions as processed (their pts come as own_update markers)", async () => {
    const { net, me, t, client } = await connectedLogin();
    const bob = net.addUser({ name: 'Bob' });
    const dm = net.dm(me.id, bob.id);
    const sent = await client.handleMatrixMessage({
      portal: { chatId: makeChatId(dm), receiver: makeLoginId(me.id) },
      eventId: '$x',
      sender: '@alice:test',
      timestamp: 1,
      content: { kind: 'text', text: { text: 'from Matrix' } },
      idempotencyKey: '$x',
    });
    net.send(bob.id, dm, 'answer');
    await net.idle();
    await eventuallyEqual(() => t.ctx.metadata[PTS_METADATA], 2);
    expect(sent.remoteId).toBe('1');
    expect(t.events.map(brief)).toEqual(['message:2']);
  });

  it('skips to the present when the log no longer reaches back (history catch-up covers messages)', async () => {
    const net = new FakeNetwork({ updateLogCapacity: 2 });
    const me = net.addUser({ name: 'Me' });
    const bob = net.addUser({ name: 'Bob' });
    const dm = net.dm(me.id, bob.id);
    const token = net.createSession(me.id);
    for (let i = 0; i < 5; i++) net.send(bob.id, dm, `m${i}`);
    const { t } = await restartedClient(net, me.id, token, { [PTS_METADATA]: 0 });
    expect(t.events).toEqual([]);
    await eventuallyEqual(() => t.ctx.metadata[PTS_METADATA], 5);
  });

  it('a login without a saved pts starts from the present (nothing before the login is replayed)', async () => {
    const net = new FakeNetwork();
    const me = net.addUser({ name: 'Me' });
    const bob = net.addUser({ name: 'Bob' });
    net.send(bob.id, net.dm(me.id, bob.id), 'old news');
    const { t } = await restartedClient(net, me.id, net.createSession(me.id), {});
    expect(t.events).toEqual([]);
    await eventuallyEqual(() => t.ctx.metadata[PTS_METADATA], 1);
  });
});

/** Polls until `read()` equals `want` (the cursor saves asynchronously). */
async function eventuallyEqual(read: () => unknown, want: unknown): Promise<void> {
  for (let i = 0; i < 200 && read() !== want; i++) await new Promise((r) => setTimeout(r, 5));
  expect(read()).toEqual(want);
}
