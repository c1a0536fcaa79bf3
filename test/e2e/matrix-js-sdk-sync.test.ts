import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as sdk from 'matrix-js-sdk';
import { registerSdkClient } from './register-sdk-client.js';
import type { Platform } from '../../homeserver/platform.js';
import { buildPlatform } from '../helpers/platform.js';

/**
 * Two matrix-js-sdk clients running their real sync loops (startClient) against Causeway: each
 * must see the other's messages, typing, receipts and media through sync.
 */
let p: Platform;
let baseUrl: string;
const clients: sdk.MatrixClient[] = [];

async function startedClient(username: string): Promise<sdk.MatrixClient> {
  const client = await registerSdkClient(baseUrl, username);
  clients.push(client);
  const prepared = new Promise<void>((resolve, reject) => {
    client.on(sdk.ClientEvent.Sync, (state, _prev, data) => {
      if (state === sdk.SyncState.Prepared) resolve();
      if (state === sdk.SyncState.Error) reject(data?.error ?? new Error('sync error'));
    });
  });
  await client.startClient({ initialSyncLimit: 10 });
  await prepared;
  return client;
}

/** Resolves with the first value `check` returns for an emitted event. */
function waitFor<T>(client: sdk.MatrixClient, event: string, check: (...args: any[]) => T | undefined): Promise<T> {
  return new Promise((resolve) => {
    const listener = (...args: any[]) => {
      const value = check(...args);
      if (value !== undefined) {
        client.off(event as any, listener);
        resolve(value);
      }
    };
    client.on(event as any, listener);
  });
}

beforeAll(async () => {
  p = await buildPlatform();
  await p.app.listen({ host: '127.0.0.1', port: 0 });
  baseUrl = `http://127.0.0.1:${(p.app.server.address() as { port: number }).port}`;
});
afterAll(async () => {
  for (const c of clients) c.stopClient();
  await p.close();
});

describe('matrix-js-sdk clients with startClient()', () => {
  it('exchange messages, typing, receipts and media through sync', { timeout: 60_000 }, async () => {
    const alice = await startedClient('alice');
    const bob = await startedClient('bob');

    const invited = waitFor(bob, 'RoomMember.membership', (_e: unknown, member: sdk.RoomMember) =>
      member.userId === bob.getUserId() && member.membership === 'invite' ? member.roomId : undefined,
    );
    const { room_id: roomId } = await alice.createRoom({ name: 'SDK sync room', invite: [bob.getUserId()!] });
    expect(await invited).toBe(roomId);
    await bob.joinRoom(roomId);

    const bobSees = waitFor(bob, 'Room.timeline', (event: sdk.MatrixEvent) =>
      event.getType() === 'm.room.message' && event.getRoomId() === roomId ? event : undefined,
    );
    const sent = await alice.sendTextMessage(roomId, 'hello bob');
    const received = await bobSees;
    expect(received.getId()).toBe(sent.event_id);
    expect(received.getContent().body).toBe('hello bob');

    const aliceSees = waitFor(alice, 'Room.timeline', (event: sdk.MatrixEvent) =>
      event.getType() === 'm.room.message' && event.getSender() === bob.getUserId() ? event : undefined,
    );
    await bob.sendTextMessage(roomId, 'hi alice');
    expect((await aliceSees).getContent().body).toBe('hi alice');

    const typing = waitFor(alice, 'RoomMember.typing', (_e: unknown, member: sdk.RoomMember) =>
      member.userId === bob.getUserId() && member.typing ? true : undefined,
    );
    await bob.sendTyping(roomId, true, 10_000);
    expect(await typing).toBe(true);

    const receipt = waitFor(alice, 'Room.receipt', (event: sdk.MatrixEvent) => {
      const content = event.getContent() as Record<string, { 'm.read'?: Record<string, unknown> }>;
      return content[sent.event_id]?.['m.read']?.[bob.getUserId()!] ? true : undefined;
    });
    await bob.sendReadReceipt(received);
    expect(await receipt).toBe(true);

    // Media: upload through the content repository, send it, the other side downloads the same bytes.
    const bytes = Buffer.from('not really a png, but bytes are bytes');
    const upload = await alice.uploadContent(bytes, { name: 'note.txt', type: 'text/plain' });
    expect(upload.content_uri).toMatch(/^mxc:\/\//);
    const imageSeen = waitFor(bob, 'Room.timeline', (event: sdk.MatrixEvent) =>
      event.getContent().msgtype === 'm.file' ? event : undefined,
    );
    await alice.sendMessage(roomId, { msgtype: sdk.MsgType.File, body: 'note.txt', url: upload.content_uri });
    const fileEvent = await imageSeen;
    const url = bob.mxcUrlToHttp(fileEvent.getContent().url, undefined, undefined, undefined, false, true, true)!;
    const download = await fetch(url, { headers: { authorization: `Bearer ${bob.getAccessToken()}` } });
    expect(download.status).toBe(200);
    expect(Buffer.from(await download.arrayBuffer()).equals(bytes)).toBe(true);
  });
});
