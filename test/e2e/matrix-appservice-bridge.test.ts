import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import { AppServiceRegistration, Bridge, type Request, type WeakEvent } from 'matrix-appservice-bridge';
import type { Platform } from '../../homeserver/platform.js';
import { buildPlatform, call, enc, makeUser, SERVER_NAME, type TestUser } from '../helpers/platform.js';
import { waitFor } from '../integration/appservices/delivery-helpers.js';

/**
 * matrix-appservice-bridge 10.3 (matrix-bot-sdk underneath) as a real appservice over real HTTP:
 * the homeserver listens on 127.0.0.1:0, the bridge's own listener on 127.0.0.1:0, and the
 * registration points at the bridge's url. Every request and transaction is the library's own.
 * (@matrix-org/matrix-sdk-crypto-nodejs is the vendor/ stub: the bridge runs without encryption.)
 */
let p: Platform;
let bridge: Bridge;
let human: TestUser;
const received: WeakEvent[] = [];
const ghost = (name: string) => `@asb_${name}:${SERVER_NAME}`;

beforeAll(async () => {
  p = await buildPlatform();
  await p.app.listen({ host: '127.0.0.1', port: 0 });
  const hsUrl = `http://127.0.0.1:${(p.app.server.address() as AddressInfo).port}`;

  const registration = new AppServiceRegistration(null);
  registration.setId('asb');
  registration.setHomeserverToken('asb-hs-token-0123456789');
  registration.setAppServiceToken('asb-as-token-0123456789');
  registration.setSenderLocalpart('asbbot');
  registration.addRegexPattern('users', `@asb_.*:${SERVER_NAME.replace('.', '\\.')}`, true);
  registration.addRegexPattern('aliases', `#asb_.*:${SERVER_NAME.replace('.', '\\.')}`, true);

  bridge = new Bridge({
    homeserverUrl: hsUrl,
    domain: SERVER_NAME,
    registration,
    disableStores: true,
    controller: {
      onEvent: (request: Request<WeakEvent>) => void received.push(request.getData()),
      // A user query for a known-looking ghost provisions it (the bridge registers it, then answers 200).
      onUserQuery: (user) => (user.getId().includes('known') ? { name: `Bridged ${user.localpart}` } : null),
      // An alias query creates a portal room carrying that alias.
      onAliasQuery: (_alias, localpart) =>
        localpart.includes('known') ? { creationOpts: { room_alias_name: localpart, preset: 'public_chat', name: 'Portal' } } : null,
    },
  });
  await bridge.initialise();
  await bridge.listen(0, '127.0.0.1');
  const server = (bridge.appService as unknown as { server: { address(): AddressInfo } }).server;
  const bridgeUrl = `http://127.0.0.1:${server.address().port}`;

  // The registration as an operator adds it at runtime (the admin API's path), with the bridge's url.
  await p.services.appservices!.add!({ ...registration.getOutput(), url: bridgeUrl });
  await waitFor(() => p.delivery!.loop('asb')?.position !== undefined, 15_000, 'delivery loop');
  human = await makeUser(p, 'human');
}, 60_000);

afterAll(async () => {
  await bridge?.close().catch(() => {});
  await p?.close();
});

describe('matrix-appservice-bridge against Causeway', () => {
  it('registers ghosts, creates a room, sends as a ghost and receives the user’s messages', async () => {
    const alice = bridge.getIntent(ghost('alice'));
    await alice.ensureRegistered();
    await alice.setDisplayName('Alice (bridged)');
    const profile = await call(p, human, 'GET', `/_matrix/client/v3/profile/${enc(ghost('alice'))}`);
    expect(profile).toMatchObject({ status: 200, body: { displayname: 'Alice (bridged)' } });

    const { room_id: roomId } = await alice.createRoom({
      createAsClient: true,
      options: { name: 'Bridged chat', preset: 'private_chat', invite: [human.userId] },
    });
    expect(roomId).toMatch(/^!/);
    expect((await call(p, human, 'POST', `/_matrix/client/v3/join/${enc(roomId)}`, {})).status).toBe(200);

    const sent = await alice.sendText(roomId, 'hello from the other network');
    const messages = await call(p, human, 'GET', `/_matrix/client/v3/rooms/${enc(roomId)}/messages?dir=b&limit=10`);
    expect(messages.status).toBe(200);
    const fromGhost = (messages.body.chunk as WeakEvent[]).find((e) => e.event_id === sent.event_id);
    expect(fromGhost).toMatchObject({ sender: ghost('alice'), content: { body: 'hello from the other network' } });

    const reply = await call(p, human, 'PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/r1`, {
      msgtype: 'm.text',
      body: 'hello back from Matrix',
    });
    expect(reply.status).toBe(200);
    await waitFor(() => received.some((e) => e.event_id === reply.body.event_id), 20_000, 'the bridge receiving the reply');
    const got = received.find((e) => e.event_id === reply.body.event_id)!;
    expect(got).toMatchObject({
      room_id: roomId,
      sender: human.userId,
      type: 'm.room.message',
      content: { body: 'hello back from Matrix' },
    });
    // The human's join reached the bridge too, in order before the reply.
    const joinIdx = received.findIndex((e) => e.type === 'm.room.member' && e.state_key === human.userId && e.room_id === roomId);
    expect(joinIdx).toBeGreaterThanOrEqual(0);
    expect(joinIdx).toBeLessThan(received.indexOf(got));
  }, 60_000);

  it('answers user queries: a profile lookup of an unknown ghost makes the bridge provision it', async () => {
    const known = await call(p, human, 'GET', `/_matrix/client/v3/profile/${enc(ghost('known_bob'))}`);
    expect(known).toMatchObject({ status: 200, body: { displayname: 'Bridged asb_known_bob' } });
    const unknown = await call(p, human, 'GET', `/_matrix/client/v3/profile/${enc(ghost('nobody'))}`);
    expect(unknown).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND' } });
  }, 30_000);

  it('answers alias queries: joining an unknown alias in its namespace makes the bridge create the portal', async () => {
    const alias = `#asb_known_portal:${SERVER_NAME}`;
    const joined = await call(p, human, 'POST', `/_matrix/client/v3/join/${enc(alias)}`, {});
    expect(joined.status).toBe(200);
    const resolved = await call(p, undefined, 'GET', `/_matrix/client/v3/directory/room/${enc(alias)}`);
    expect(resolved).toMatchObject({ status: 200, body: { room_id: joined.body.room_id } });
    const missing = await call(p, human, 'POST', `/_matrix/client/v3/join/${enc(`#asb_nothing:${SERVER_NAME}`)}`, {});
    expect(missing).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND' } });
  }, 30_000);
});
