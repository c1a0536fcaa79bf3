import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Platform } from '../../homeserver/platform.js';
import type { CryptoStore } from '../../bridges/core/crypto-store/index.js';
import type { LoginId } from '../../bridges/core/network/ids.js';
import { Intent } from '../../bridges/core/matrix/intent.js';
import { Portals } from '../../bridges/core/portal/portals.js';
import { buildPlatform } from '../helpers/platform.js';
import { eventually, startFakenetBridge, testCryptoStore, type TestBridge } from '../helpers/bridge.js';
import { FakeNetwork, PTS_METADATA } from '../fakes/fakenet/index.js';
import { provision, startMatrixUser, type Arrival, type MatrixUser } from './matrix-user.js';

/**
 * Nothing the remote side does while a login is offline is lost, and nothing arrives twice: the
 * fake network keeps a per-account update log (Telegram pts / WhatsApp offline notifications),
 * the fakenet client saves the last pts the core applied in the login's metadata and replays the
 * difference on connect. A matrix-js-sdk user checks what its room shows, over real HTTP.
 */
let p: Platform;
let baseUrl: string;
let net: FakeNetwork;
let keys: CryptoStore;
let bridge: TestBridge;
let alice: MatrixUser;
let me: { id: string; phone: string };
let bob: { id: string };
let dm: string;
let room: string;
/** The pts saved just before the first stop: a crash losing later saves would restart from here. */
let ptsBeforeOffline: number;

const arrivals = (): Arrival[] => alice.arrivals(room);

beforeAll(async () => {
  p = await buildPlatform();
  await p.app.listen({ host: '127.0.0.1', port: 0 });
  baseUrl = `http://127.0.0.1:${(p.app.server.address() as { port: number }).port}`;
  net = new FakeNetwork();
  const u = net.addUser({ name: 'Me Remote', phone: '+15550101' });
  me = { id: u.id, phone: u.phone };
  bob = net.addUser({ name: 'Bob', phone: '+15550102' });
  dm = net.dm(me.id, bob.id);
  keys = testCryptoStore(p.db);
  bridge = await startBridge();
  alice = await startMatrixUser(baseUrl, 'alice');

  // The phone login flow: its completion stores where the account's update log stands.
  const first = await provision(bridge.provisioningUrl, alice, 'POST', '/login/start/phone');
  const second = await provision(bridge.provisioningUrl, alice, 'POST', `/login/step/${first.login_id}/${first.step_id}/user_input`, {
    phone_number: me.phone,
  });
  await provision(bridge.provisioningUrl, alice, 'POST', `/login/step/${first.login_id}/${second.step_id}/user_input`, {
    code: net.lastCode(me.phone),
  });
  await connectedAndCaughtUp();
});

/** Bounded: a rare shutdown hang is known (docs/ARCHITECTURE.md) and must not hide the assertions. */
async function bounded(step: string, work: Promise<unknown> | undefined): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(resolve, 15_000, 'late')));
  if ((await Promise.race([work, late])) === 'late') console.error(`teardown: ${step} did not finish within 15 s`);
  clearTimeout(timer);
}

afterAll(async () => {
  alice?.client.stopClient();
  await bounded('bridge.stop()', bridge?.stop());
  await bounded('platform close', p?.close());
});

function startBridge(): Promise<TestBridge> {
  return startFakenetBridge({ platform: p, baseUrl, net, keys });
}

/** The login runs in `bridge`, its difference was emitted, its history catch-up queued, and all of it applied. */
async function connectedAndCaughtUp(): Promise<void> {
  await eventually(() => bridge.bridge.portalDeps.logins.sendable().includes(me.id as LoginId));
  await bridge.bridge.portals.idle();
}

/** The pts saved in the login's metadata. */
async function savedPts(): Promise<unknown> {
  const login = await bridge.bridge.portalDeps.userLogins.get(me.id as LoginId);
  return login?.metadata[PTS_METADATA];
}

/** Sends a live message from Bob and waits for it: everything queued before it has been applied. */
async function marker(text: string): Promise<void> {
  net.send(bob.id, dm, text);
  await eventually(() => arrivals().find((a) => a.content.body === text));
}

/** What an arrival shows, in words, with targets named by the body they had when they arrived. */
function describeArrival(a: Arrival): string {
  const byId = (id: string) => arrivals().find((x) => x.id === id);
  const body = (id: string) => byId(id)?.content.body ?? `unknown ${id}`;
  const who = (mxid: string) => alice.client.getRoom(room)?.getMember(mxid)?.name ?? mxid;
  const rel = a.content['m.relates_to'];
  if (a.type === 'm.reaction') return `${who(a.sender)} reacts ${rel.key} to "${body(rel.event_id)}"`;
  if (a.type === 'm.room.redaction')
    return `${who(a.sender)} redacts [${a.redacts && byId(a.redacts) ? describeArrival(byId(a.redacts)!) : a.redacts}]`;
  if (rel?.rel_type === 'm.replace') return `${who(a.sender)} edits "${body(rel.event_id)}" to "${a.content['m.new_content'].body}"`;
  return `${who(a.sender)} says "${a.content.body}"`;
}

/** Messages, edits, reactions and redactions that arrived after `from`, described. */
function shownSince(from: number): string[] {
  return arrivals()
    .slice(from)
    .filter((a) => ['m.room.message', 'm.reaction', 'm.room.redaction'].includes(a.type))
    .map(describeArrival);
}

describe('a login that was offline recovers everything the remote side did meanwhile', () => {
  // A wait that never ends shows as a timeout: say where the login and its portals stood.
  beforeEach((test) =>
    test.onTestFailed(async () =>
      console.error('state at failure', {
        pool: [...bridge.bridge.pool.states()],
        busy: bridge.bridge.portals.busy(),
        sendable: bridge.bridge.portalDeps.logins.sendable(),
        savedPts: await savedPts().catch((err) => String(err)),
        networkPts: net.updates.state(me.id),
        connections: net.connectionCount(me.id),
        shown: room ? shownSince(0) : [],
      }),
    ),
  );

  it('replays edits, deletes, reactions, their removal, messages and receipts in order after a worker restart, once', async () => {
    net.send(bob.id, dm, 'keep me');
    room = await eventually(() => alice.client.getRooms().find((r) => r.getMyMembership() === 'invite')?.roomId);
    await alice.client.joinRoom(room);
    for (const text of ['edit me', 'delete me', 'react to me']) net.send(bob.id, dm, text);
    await eventually(() => arrivals().find((a) => a.content.body === 'react to me'));
    const [editMe, deleteMe, reactToMe] = ['edit me', 'delete me', 'react to me'].map(
      (t) => net.messages(dm).find((m) => net.textOf(m) === t)!.id,
    );
    await eventually(async () => (await savedPts()) === net.updates.state(me.id));
    ptsBeforeOffline = net.updates.state(me.id);

    await bridge.stop();
    const from = arrivals().length;
    net.edit(bob.id, dm, editMe!, 'edited while you were away');
    net.delete(bob.id, dm, deleteMe!);
    net.react(bob.id, dm, reactToMe!, '👍');
    net.unreact(bob.id, dm, reactToMe!, '👍');
    net.react(bob.id, dm, reactToMe!, '🎉');
    net.send(bob.id, dm, 'sent while you were away');
    const fromPhone = net.send(me.id, dm, 'from my phone meanwhile');
    net.markRead(bob.id, dm, fromPhone);

    bridge = await startBridge();
    await connectedAndCaughtUp();
    await marker('live again');
    expect(shownSince(from)).toEqual([
      'Bob edits "edit me" to "edited while you were away"',
      'Bob redacts [Bob says "delete me"]',
      'Bob reacts 👍 to "react to me"',
      'Bob redacts [Bob reacts 👍 to "react to me"]',
      'Bob reacts 🎉 to "react to me"',
      'Bob says "sent while you were away"',
      'Me Remote says "from my phone meanwhile"',
      'Bob says "live again"',
    ]);
    const bobGhost = arrivals().find((a) => a.content.body === 'live again')!.sender;
    const phoneEvent = arrivals().find((a) => a.content.body === 'from my phone meanwhile')!.id;
    // Bob's own message after the receipt counts as read by him too, so look at the receipt itself.
    expect(alice.client.getRoom(room)!.getReadReceiptForUserId(bobGhost, true)?.eventId).toBe(phoneEvent);
    await eventually(async () => (await savedPts()) === net.updates.state(me.id));
  });

  it('a second restart replays nothing', async () => {
    await bridge.stop();
    const from = arrivals().length;
    bridge = await startBridge();
    await connectedAndCaughtUp();
    await marker('after the second restart');
    expect(shownSince(from)).toEqual(['Bob says "after the second restart"']);
  });

  it('a replay of everything since the first stop (a crash lost the saved pts) shows nothing twice', async () => {
    await bridge.stop();
    const logins = bridge.bridge.portalDeps.userLogins;
    const login = (await logins.get(me.id as LoginId))!;
    await logins.setMetadata(me.id as LoginId, { ...login.metadata, [PTS_METADATA]: ptsBeforeOffline });
    const from = arrivals().length;
    // Counted at the bridge itself too: the homeserver's transaction-id dedupe would hide a second send from the room.
    const emitted = vi.spyOn(Portals.prototype, 'emit');
    const sends = vi.spyOn(Intent.prototype, 'sendEvent');
    const redactions = vi.spyOn(Intent.prototype, 'redact');
    try {
      bridge = await startBridge();
      await connectedAndCaughtUp();
      await marker('after the replay');
      expect(shownSince(from)).toEqual(['Bob says "after the replay"']);
      // Everything since: the offline updates, "live again", "after the second restart", then the live marker.
      expect(emitted.mock.calls.map(([, ev]) => ev.type)).toEqual([
        ...['edit', 'delete', 'reaction', 'reaction_remove', 'reaction', 'message', 'message', 'read_receipt'],
        ...['message', 'message'],
        'message',
      ]);
      expect(sends.mock.calls.map(([, , content]) => content.body)).toEqual(['after the replay']);
      expect(redactions).not.toHaveBeenCalled();
    } finally {
      vi.restoreAllMocks();
    }
    await eventually(async () => (await savedPts()) === net.updates.state(me.id));
  });

  it('a dropped connection recovers the same way when it reconnects', async () => {
    const from = arrivals().length;
    const target = net.messages(dm).find((m) => net.textOf(m) === 'sent while you were away')!.id;
    net.dropConnections(me.id);
    // Synchronously after the drop: the pool reconnects only after a backoff.
    net.edit(bob.id, dm, target, 'sent while you were away, then edited');
    net.react(bob.id, dm, target, '👀');
    await eventually(() => net.connectionCount(me.id) === 1);
    await connectedAndCaughtUp();
    await marker('after the drop');
    expect(shownSince(from)).toEqual([
      'Bob edits "sent while you were away" to "sent while you were away, then edited"',
      'Bob reacts 👀 to "sent while you were away"',
      'Bob says "after the drop"',
    ]);
  });
});
