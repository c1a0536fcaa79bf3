import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../../homeserver/platform.js';
import { buildPlatform, call, enc, makeUser, SERVER_NAME, type TestUser } from '../../helpers/platform.js';
import { FakeAppservice, registration, registrationFile, waitFor } from './delivery-helpers.js';

/**
 * User and alias queries over real HTTP: when a client touches an unknown user or alias in an
 * appservice's namespace, the homeserver asks the appservice, which creates it (through the
 * client API, with its as_token) before answering 200; a 404 leaves it unknown.
 */
let p: Platform;
let human: TestUser;
const as = new FakeAppservice();
const AS = { userId: '', deviceId: '', accessToken: 'q-as-token', auth: { authorization: 'Bearer q-as-token' } };
const ghost = (n: string) => `@q_${n}:${SERVER_NAME}`;
const alias = (n: string) => `#q_${n}:${SERVER_NAME}`;

beforeAll(async () => {
  await as.start();
  // Names containing "yes" exist once asked: the appservice registers the ghost or creates the portal room first.
  as.onQuery = async (kind, id) => {
    if (!id.includes('yes')) return false;
    if (kind === 'users') {
      const r = await call(p, AS, 'POST', '/_matrix/client/v3/register', {
        type: 'm.login.application_service',
        username: id.slice(1, id.indexOf(':')),
      });
      return r.status === 200;
    }
    const r = await call(p, AS, 'POST', '/_matrix/client/v3/createRoom', {
      room_alias_name: id.slice(1, id.indexOf(':')),
      preset: 'public_chat',
    });
    return r.status === 200;
  };
  const doc = registration('q', as.url, `@q_.*:${SERVER_NAME.replace('.', '\\.')}`, {
    namespaces: {
      users: [{ exclusive: true, regex: `@q_.*:test\\.local` }],
      aliases: [{ exclusive: true, regex: `#q_.*:test\\.local` }],
    },
  });
  p = await buildPlatform({ appservices: { registration_files: [registrationFile(doc)] } });
  await waitFor(() => p.delivery!.loop('q')?.position !== undefined);
  human = await makeUser(p, 'human');
}, 30_000);

afterAll(async () => {
  await p?.close();
  await as.close();
});

const asked = (entry: string) => as.queries.filter((q) => q === entry).length;

describe('appservice user queries', () => {
  it('profile lookup: a positive answer continues with the user the appservice created', async () => {
    const r = await call(p, human, 'GET', `/_matrix/client/v3/profile/${enc(ghost('yes_profile'))}`);
    expect(r.status).toBe(200);
    expect(asked(`users:${ghost('yes_profile')}`)).toBe(1);
    // Known now: not asked again.
    await call(p, human, 'GET', `/_matrix/client/v3/profile/${enc(ghost('yes_profile'))}`);
    expect(asked(`users:${ghost('yes_profile')}`)).toBe(1);
  });

  it('profile lookup: a negative answer is M_NOT_FOUND; users outside the namespace are never asked', async () => {
    const r = await call(p, human, 'GET', `/_matrix/client/v3/profile/${enc(ghost('no_profile'))}`);
    expect(r).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND' } });
    expect(asked(`users:${ghost('no_profile')}`)).toBe(1);
    const before = as.queries.length;
    expect((await call(p, human, 'GET', `/_matrix/client/v3/profile/${enc(`@stranger:${SERVER_NAME}`)}`)).status).toBe(404);
    expect(as.queries.length).toBe(before);
  });

  it('invite: the appservice is asked about an unknown invitee; yes invites, no is M_NOT_FOUND', async () => {
    const room = (await call(p, human, 'POST', '/_matrix/client/v3/createRoom', {})).body.room_id as string;
    const yes = await call(p, human, 'POST', `/_matrix/client/v3/rooms/${enc(room)}/invite`, { user_id: ghost('yes_invite') });
    expect(yes.status).toBe(200);
    const no = await call(p, human, 'POST', `/_matrix/client/v3/rooms/${enc(room)}/invite`, { user_id: ghost('no_invite') });
    expect(no).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND' } });
    const state = await call(p, human, 'GET', `/_matrix/client/v3/rooms/${enc(room)}/state/m.room.member/${enc(ghost('yes_invite'))}`);
    expect(state.body).toMatchObject({ membership: 'invite' });
  });

  it('createRoom invite: an unknown invitee in the namespace is asked about first', async () => {
    const r = await call(p, human, 'POST', '/_matrix/client/v3/createRoom', { invite: [ghost('yes_create')] });
    expect(r.status).toBe(200);
    expect(asked(`users:${ghost('yes_create')}`)).toBe(1);
    const whoami = await call(p, AS, 'GET', `/_matrix/client/v3/account/whoami?user_id=${enc(ghost('yes_create'))}`);
    expect(whoami.body).toMatchObject({ user_id: ghost('yes_create') });
  });
});

describe('appservice alias queries', () => {
  it('GET /directory/room/{alias}: a positive answer resolves to the room the appservice created', async () => {
    const r = await call(p, undefined, 'GET', `/_matrix/client/v3/directory/room/${enc(alias('yes_dir'))}`);
    expect(r).toMatchObject({ status: 200, body: { servers: [SERVER_NAME] } });
    expect(r.body.room_id).toMatch(/^!/);
    expect(asked(`rooms:${alias('yes_dir')}`)).toBe(1);
  });

  it('join by alias: yes joins the new room, no is M_NOT_FOUND, aliases outside the namespace are not asked', async () => {
    const yes = await call(p, human, 'POST', `/_matrix/client/v3/join/${enc(alias('yes_join'))}`, {});
    expect(yes.status).toBe(200);
    const members = await call(p, human, 'GET', `/_matrix/client/v3/rooms/${enc(yes.body.room_id)}/joined_members`);
    expect(Object.keys(members.body.joined)).toContain(human.userId);
    const no = await call(p, human, 'POST', `/_matrix/client/v3/join/${enc(alias('no_join'))}`, {});
    expect(no).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND' } });
    expect(asked(`rooms:${alias('no_join')}`)).toBe(1);
    const before = as.queries.length;
    expect((await call(p, human, 'POST', `/_matrix/client/v3/join/${enc(`#elsewhere:${SERVER_NAME}`)}`, {})).status).toBe(404);
    expect(as.queries.length).toBe(before);
  });
});
