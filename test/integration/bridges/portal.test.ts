import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../../homeserver/platform.js';
import type { CryptoStore } from '../../../bridges/core/crypto-store/index.js';
import { remoteMessageId, type LoginId, type PortalKey, type RemoteChatId, type RemoteUserId } from '../../../bridges/core/network/ids.js';
import { buildPlatform, makeUser, enc, type TestUser } from '../../helpers/platform.js';
import { eventually, loginDirectly, startFakenetBridge, testCryptoStore, type TestBridge } from '../../helpers/bridge.js';
import { FakeNetwork } from '../../fakes/fakenet/index.js';

/**
 * The portal engine in cluster mode (the homeserver pushes transactions over HTTP to the
 * bridge's own listener) and the remote events the end-to-end proof does not reach: dedupe of
 * a repeated remote message, chat info and member changes, typing both ways, chat deletion.
 */
let p: Platform;
let baseUrl: string;
let net: FakeNetwork;
let keys: CryptoStore;
let bridge: TestBridge;
let hsPort: number;
let alice: TestUser;
let me: string;
let bob: string;
let carol: string;
let group: string;
let roomId: string;

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

async function matrix(method: string, path: string, body?: unknown): Promise<any> {
  const res = await p.app.inject({ method: method as 'GET', url: path, headers: alice.auth, ...(body ? { payload: body as object } : {}) });
  return res.json();
}

async function roomEvents(): Promise<any[]> {
  const r = await matrix('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/messages?dir=b&limit=100`);
  return (r.chunk ?? []).reverse();
}

beforeAll(async () => {
  p = await buildPlatform();
  await p.app.listen({ host: '127.0.0.1', port: 0 });
  baseUrl = `http://127.0.0.1:${(p.app.server.address() as { port: number }).port}`;
  net = new FakeNetwork();
  me = net.addUser({ name: 'Me', phone: '+15550101' }).id;
  bob = net.addUser({ name: 'Bob', phone: '+15550102' }).id;
  carol = net.addUser({ name: 'Carol', phone: '+15550103' }).id;
  group = net.createGroup(me, 'Plans', [bob]);
  keys = testCryptoStore(p.db);
  hsPort = await freePort();
  bridge = await startFakenetBridge({
    platform: p,
    baseUrl,
    net,
    keys,
    config: { appservice: { mode: 'http', listen_port: hsPort }, backfill: { initial_limit: 0 } },
  });
  alice = await makeUser(p, 'alice');
  await loginDirectly(bridge.bridge, keys, net, alice.userId, me);
});

afterAll(async () => {
  await bridge?.stop();
  await p?.close();
});

describe('portals in cluster mode (appservice over HTTP)', () => {
  it('refuses transactions without the hs_token', async () => {
    const put = (auth?: string) =>
      fetch(`http://127.0.0.1:${hsPort}/_matrix/app/v1/transactions/t1`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${auth}` } : {}) },
        body: JSON.stringify({ events: [] }),
      });
    expect((await put()).status).toBe(403);
    expect((await put('wrong-token')).status).toBe(403);
    expect(await (await put('wrong-token')).json()).toEqual({ errcode: 'M_FORBIDDEN', error: 'Bad hs_token' });
  });

  it('creates the group portal, and Matrix messages reach the network through the HTTP listener', async () => {
    net.send(bob, group, 'first');
    roomId = await eventually(async () => {
      const sync = await matrix('GET', '/_matrix/client/v3/sync?timeout=0');
      return Object.keys(sync.rooms?.invite ?? {})[0];
    });
    await matrix('POST', `/_matrix/client/v3/join/${enc(roomId)}`, {});
    await eventually(async () => (await roomEvents()).some((e) => e.content?.body === 'first'));
    await matrix('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/txn1`, { msgtype: 'm.text', body: 'over http' });
    await eventually(() => net.messages(group).some((m) => net.textOf(m) === 'over http' && m.senderId === me));
  });

  it('ignores a remote message it has already bridged', async () => {
    const handle = bridge.bridge.portalDeps.logins.get(me as LoginId)!;
    const portal: PortalKey = { chatId: group as RemoteChatId };
    const event = {
      type: 'message' as const,
      portal,
      sender: { userId: bob as RemoteUserId },
      id: remoteMessageId('900'),
      timestamp: Date.now(),
      content: { kind: 'text' as const, text: { text: 'said twice' } },
    };
    bridge.bridge.portals.emit(handle, event);
    bridge.bridge.portals.emit(handle, event);
    await bridge.bridge.portals.idle();
    expect((await roomEvents()).filter((e) => e.content?.body === 'said twice')).toHaveLength(1);
  });

  it('follows chat info and member changes', async () => {
    net.renameChat(bob, group, 'Plans (renamed)');
    await eventually(async () => (await roomEvents()).some((e) => e.type === 'm.room.name' && e.content.name === 'Plans (renamed)'));
    net.addMember(bob, group, carol);
    const carolGhost = `@fakenet_${carol}:test.local`;
    await eventually(async () => {
      const members = await matrix('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/joined_members`);
      return Object.keys(members.joined ?? {}).includes(carolGhost);
    });
    net.removeMember(bob, group, carol);
    await eventually(async () => {
      const members = await matrix('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/joined_members`);
      return !Object.keys(members.joined ?? {}).includes(carolGhost);
    });
  });

  it('bridges typing both ways', async () => {
    await matrix('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/typing/${enc(alice.userId)}`, { typing: true, timeout: 10_000 });
    await eventually(() => (net.typingOf(group, me) ?? 0) > 0);
    net.typing(bob, group, 5_000);
    const bobGhost = `@fakenet_${bob}:test.local`;
    await eventually(async () => {
      const sync = await matrix('GET', '/_matrix/client/v3/sync?timeout=0');
      const typing = sync.rooms?.join?.[roomId]?.ephemeral?.events?.find((e: any) => e.type === 'm.typing');
      return typing?.content.user_ids.includes(bobGhost);
    });
  });

  it('removes the user from the room when the chat is deleted', async () => {
    net.deleteChat(me, group);
    await eventually(async () => {
      const joined = await matrix('GET', '/_matrix/client/v3/joined_rooms');
      return !joined.joined_rooms.includes(roomId);
    });
    await eventually(async () => (await bridge.bridge.portalDeps.portals.getByRoom(roomId)) === undefined);
  });
});
