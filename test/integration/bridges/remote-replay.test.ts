import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Platform } from '../../../homeserver/platform.js';
import { Intent } from '../../../bridges/core/matrix/intent.js';
import { remoteMessageId, type LoginId, type PortalKey, type RemoteChatId, type RemoteUserId } from '../../../bridges/core/network/ids.js';
import type { RemoteEvent } from '../../../bridges/core/network/remote-event.js';
import { buildPlatform, makeUser } from '../../helpers/platform.js';
import { eventually, loginDirectly, startFakenetBridge, testCryptoStore, type TestBridge } from '../../helpers/bridge.js';
import { FakeNetwork } from '../../fakes/fakenet/index.js';

/**
 * The core applies a replayed remote event as a no-op: a connector recovering what happened
 * offline (Telegram getDifference, WhatsApp offline notifications) resumes from the last position
 * it saved, which may trail what the core already applied. Counted at the bridge's own Matrix
 * calls, since the homeserver's transaction-id dedupe would hide a second send from the room.
 */
let p: Platform;
let net: FakeNetwork;
let bridge: TestBridge;
let me: string;
let bob: string;
let group: string;

const sends = vi.spyOn(Intent.prototype, 'sendEvent');
const redacts = vi.spyOn(Intent.prototype, 'redact');

/** Matrix calls the bridge made since the last call of this function. */
function matrixCalls(): string[] {
  const out = [
    ...sends.mock.calls.map(
      ([, type, content]) =>
        `send ${type === 'm.reaction' ? `reaction ${(content['m.relates_to'] as any).key}` : content['m.relates_to'] ? 'edit' : type}`,
    ),
    ...redacts.mock.calls.map(() => 'redact'),
  ];
  sends.mockClear();
  redacts.mockClear();
  return out.sort();
}

beforeAll(async () => {
  p = await buildPlatform();
  await p.app.listen({ host: '127.0.0.1', port: 0 });
  const baseUrl = `http://127.0.0.1:${(p.app.server.address() as { port: number }).port}`;
  net = new FakeNetwork();
  me = net.addUser({ name: 'Me' }).id;
  bob = net.addUser({ name: 'Bob' }).id;
  group = net.createGroup(me, 'Replays', [bob]);
  const keys = testCryptoStore(p.db);
  bridge = await startFakenetBridge({ platform: p, baseUrl, net, keys, config: { backfill: { initial_limit: 0 } } });
  const alice = await makeUser(p, 'alice');
  await loginDirectly(bridge.bridge, keys, net, alice.userId, me);
  net.send(bob, group, 'the portal exists');
  await eventually(async () => (await bridge.bridge.portalDeps.portals.get({ chatId: group as RemoteChatId }))?.roomId);
  await bridge.bridge.portals.idle();
});

afterAll(async () => {
  vi.restoreAllMocks();
  await bridge?.stop();
  await p?.close();
});

describe('replayed remote events', () => {
  const portal = (): PortalKey => ({ chatId: group as RemoteChatId });
  const t0 = Date.now();
  const base = (ts: number) => ({ portal: portal(), sender: { userId: bob as RemoteUserId }, timestamp: t0 + ts });
  const target = remoteMessageId('901');
  const doomed = remoteMessageId('902');
  const text = (s: string) => ({ kind: 'text' as const, text: { text: s } });
  /** What a connector would emit for what happened offline (built once the group exists). */
  let offline: RemoteEvent[];
  beforeAll(() => {
    offline = [
      { ...base(1), type: 'message', id: target, content: text('target') },
      { ...base(2), type: 'message', id: doomed, content: text('doomed') },
      { ...base(3), type: 'edit', targetId: target, content: text('target, edited') },
      { ...base(4), type: 'delete', targetId: doomed },
      { ...base(5), type: 'reaction', targetId: target, key: '👍' },
      { ...base(6), type: 'reaction_remove', targetId: target, key: '👍' },
      { ...base(7), type: 'reaction', targetId: target, key: '❤️' },
    ];
  });

  async function apply(events: RemoteEvent[]): Promise<boolean[]> {
    const handle = bridge.bridge.portalDeps.logins.get(me as LoginId)!;
    const results = events.map((ev) => new Promise<boolean>((resolve) => bridge.bridge.portals.emit(handle, ev, resolve)));
    return Promise.all(results);
  }

  it('applies each once, and a replay of all of them changes nothing', async () => {
    matrixCalls();
    expect(await apply(offline)).toEqual(offline.map(() => true));
    expect(matrixCalls()).toEqual(
      ['send edit', 'send m.room.message', 'send m.room.message', 'send reaction 👍', 'send reaction ❤️', 'redact', 'redact'].sort(),
    );

    expect(await apply(offline)).toEqual(offline.map(() => true));
    expect(matrixCalls()).toEqual([]);
    const messages = bridge.bridge.portalDeps.messages;
    expect((await messages.getFirst(portal(), target))?.editCount).toBe(1);
    expect(await messages.getFirst(portal(), doomed)).toBeUndefined();
    expect(await messages.isKnown(portal(), doomed)).toBe(true);
  });

  it('shows a reaction made again after its removal, and ignores an older removal replayed after it', async () => {
    matrixCalls();
    await apply([{ ...base(8), type: 'reaction', targetId: target, key: '👍' }]);
    expect(matrixCalls()).toEqual(['send reaction 👍']);
    await apply([offline[5]!, offline[4]!]); // the first 👍 and its removal, replayed
    expect(matrixCalls()).toEqual([]);
    await apply([{ ...base(9), type: 'reaction_remove', targetId: target, key: '👍' }]);
    expect(matrixCalls()).toEqual(['redact']);
  });

  it('applies a newer edit after replays of older ones', async () => {
    matrixCalls();
    await apply([offline[2]!, { ...base(10), type: 'edit', targetId: target, content: text('target, edited twice') }, offline[2]!]);
    expect(matrixCalls()).toEqual(['send edit']);
    expect((await bridge.bridge.portalDeps.messages.getFirst(portal(), target))?.editCount).toBe(2);
  });

  it('reports a failed event as not applied (the connector keeps its position before it)', async () => {
    const handle = bridge.bridge.portalDeps.logins.get(me as LoginId)!;
    const failing = vi.spyOn(handle, 'client').mockImplementation(() => {
      throw new Error('the network is gone');
    });
    try {
      const applied = await apply([{ ...base(11), type: 'reaction', targetId: target, key: '🔥' }]);
      expect(applied).toEqual([false]);
    } finally {
      failing.mockRestore();
    }
  });
});
