import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as sdk from 'matrix-js-sdk';
import type { Platform } from '../../homeserver/platform.js';
import { buildPlatform } from '../helpers/platform.js';

/**
 * matrix-js-sdk as a real client over real HTTP: the requests, paths and response parsing are the
 * SDK's own. No startClient(): sync is the next issue's work.
 */
let p: Platform;
let baseUrl: string;

async function registerClient(username: string, password: string): Promise<sdk.MatrixClient> {
  const anon = sdk.createClient({ baseUrl });
  let session: string | undefined;
  try {
    await anon.registerRequest({ username, password });
  } catch (err) {
    session = (err as sdk.MatrixError).data.session as string;
  }
  const res = await anon.registerRequest({ username, password, auth: { type: 'm.login.dummy', session } });
  return sdk.createClient({ baseUrl, userId: res.user_id, accessToken: res.access_token, deviceId: res.device_id });
}

beforeAll(async () => {
  p = await buildPlatform();
  await p.app.listen({ host: '127.0.0.1', port: 0 });
  const address = p.app.server.address() as { port: number };
  baseUrl = `http://127.0.0.1:${address.port}`;
});
afterAll(() => p.close());

describe('matrix-js-sdk against Causeway', () => {
  it('registers two users who create, invite, join, talk, set state, redact and paginate', async () => {
    const alice = await registerClient('alice', 'alice password');
    const bob = await registerClient('bob', 'bob password');
    expect((await alice.whoami()).user_id).toBe(alice.getUserId());

    // password login works too, through the SDK's login helper
    const loginClient = sdk.createClient({ baseUrl });
    const login = await loginClient.loginRequest({
      type: 'm.login.password',
      identifier: { type: 'm.id.user', user: 'bob' },
      password: 'bob password',
    });
    expect(login.user_id).toBe(bob.getUserId());

    const { room_id: roomId } = await alice.createRoom({ name: 'SDK room', preset: sdk.Preset.PrivateChat });
    await alice.invite(roomId, bob.getUserId()!);
    await bob.joinRoom(roomId);
    expect((await bob.getJoinedRooms()).joined_rooms).toContain(roomId);

    const sent: string[] = [];
    for (let i = 0; i < 15; i++) sent.push((await alice.sendTextMessage(roomId, `hello ${i}`)).event_id);
    const reply = await bob.sendMessage(roomId, { msgtype: sdk.MsgType.Text, body: 'hi alice' });

    await alice.sendStateEvent(roomId, sdk.EventType.RoomTopic, { topic: 'from the sdk' }, '');
    const topic = await bob.getStateEvent(roomId, sdk.EventType.RoomTopic, '');
    expect(topic).toEqual({ topic: 'from the sdk' });

    await bob.redactEvent(roomId, reply.event_id, undefined, { reason: 'typo' });
    const redacted = await alice.fetchRoomEvent(roomId, reply.event_id);
    expect(redacted.content).toEqual({});
    expect((redacted.unsigned as { redacted_because?: { sender: string } }).redacted_because?.sender).toBe(bob.getUserId());

    const page1 = await bob.createMessagesRequest(roomId, null, 10, sdk.Direction.Backward);
    const bodies1 = page1.chunk.filter((e) => e.type === 'm.room.message' && e.content.body).map((e) => e.content.body);
    expect(bodies1.slice(0, 3)).toEqual(['hello 14', 'hello 13', 'hello 12']);
    const page2 = await bob.createMessagesRequest(roomId, page1.end!, 10, sdk.Direction.Backward);
    const ids2 = page2.chunk.map((e) => e.event_id);
    expect(ids2).toContain(sent[3]);
    expect(ids2).not.toContain(sent[14]);

    const members = await alice.getJoinedRoomMembers(roomId);
    expect(Object.keys(members.joined).sort()).toEqual([alice.getUserId(), bob.getUserId()].sort());

    await bob.leave(roomId);
    expect((await bob.getJoinedRooms()).joined_rooms).not.toContain(roomId);
  });

  it('surfaces Matrix errors through the SDK', async () => {
    const carol = await registerClient('carol', 'carol password');
    await expect(carol.joinRoom('!missing:test.local')).rejects.toMatchObject({ errcode: 'M_NOT_FOUND' });
    await expect(carol.createRoom({ room_version: '2' })).rejects.toMatchObject({ errcode: 'M_UNSUPPORTED_ROOM_VERSION' });
  });
});
