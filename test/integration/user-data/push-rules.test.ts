import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../../homeserver/platform.js';
import { evaluatePushRules } from '../../../homeserver/services/user-data/index.js';
import { specValidator } from '../../helpers/openapi/spec-validator.js';
import { buildPlatform, call, enc, makeUser, type TestUser } from '../../helpers/platform.js';

let p: Platform;
let alice: TestUser;
let bob: TestUser;
const spec = await specValidator();
const R = '/_matrix/client/v3/pushrules';
const ids = (rules: { rule_id: string }[]) => rules.map((r) => r.rule_id);

beforeAll(async () => {
  p = await buildPlatform();
  alice = await makeUser(p, 'alice');
  bob = await makeUser(p, 'bob');
});
afterAll(() => p.close());

describe('default push rules', () => {
  it('serves the spec ruleset in the spec order', async () => {
    const res = await call(p, alice, 'GET', `${R}/`);
    expect(res.status).toBe(200);
    spec.assertResponse('GET', `${R}/`, 200, res.body);
    const g = res.body.global;
    expect(ids(g.override)).toEqual([
      '.m.rule.master',
      '.m.rule.suppress_notices',
      '.m.rule.invite_for_me',
      '.m.rule.member_event',
      '.m.rule.is_user_mention',
      '.m.rule.contains_display_name',
      '.m.rule.is_room_mention',
      '.m.rule.roomnotif',
      '.m.rule.tombstone',
      '.m.rule.reaction',
      '.m.rule.room.server_acl',
      '.m.rule.suppress_edits',
    ]);
    expect(ids(g.content)).toEqual(['.m.rule.contains_user_name']);
    expect(g.content[0].pattern).toBe('alice');
    expect(g.room).toEqual([]);
    expect(g.sender).toEqual([]);
    expect(ids(g.underride)).toEqual([
      '.m.rule.call',
      '.m.rule.encrypted_room_one_to_one',
      '.m.rule.room_one_to_one',
      '.m.rule.message',
      '.m.rule.encrypted',
    ]);
    expect(g.override[0]).toEqual({ rule_id: '.m.rule.master', default: true, enabled: false, conditions: [], actions: [] });
    const mention = g.override.find((r: { rule_id: string }) => r.rule_id === '.m.rule.is_user_mention');
    expect(mention.conditions).toEqual([{ kind: 'event_property_contains', key: 'content.m\\.mentions.user_ids', value: alice.userId }]);
    const invite = g.override.find((r: { rule_id: string }) => r.rule_id === '.m.rule.invite_for_me');
    expect(invite.conditions[2]).toEqual({ kind: 'event_match', key: 'state_key', pattern: alice.userId });

    const global = await call(p, alice, 'GET', `${R}/global/`);
    expect(global.body).toEqual(g);
    spec.assertResponse('GET', `${R}/global/`, 200, global.body);
    expect((await call(p, alice, 'GET', '/_matrix/client/r0/pushrules/')).body).toEqual(res.body);
  });

  it('single rules, enabled and actions can be read', async () => {
    const url = `${R}/global/override/.m.rule.master`;
    const rule = await call(p, alice, 'GET', url);
    spec.assertResponse('GET', url, 200, rule.body);
    expect(rule.body.enabled).toBe(false);
    const enabled = await call(p, alice, 'GET', `${url}/enabled`);
    expect(enabled.body).toEqual({ enabled: false });
    spec.assertResponse('GET', `${url}/enabled`, 200, enabled.body);
    const actions = await call(p, alice, 'GET', `${R}/global/underride/.m.rule.message/actions`);
    expect(actions.body).toEqual({ actions: ['notify'] });
    spec.assertResponse('GET', `${R}/global/underride/.m.rule.message/actions`, 200, actions.body);
  });

  it('unknown rules are 404 and unknown kinds 400', async () => {
    for (const url of [
      `${R}/global/override/nope`,
      `${R}/global/content/.m.rule.master`,
      `${R}/global/override/nope/enabled`,
      `${R}/global/override/nope/actions`,
    ]) {
      const res = await call(p, alice, 'GET', url);
      expect(res).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND' } });
      spec.assertResponse('GET', url, 404, res.body);
    }
    expect((await call(p, alice, 'PUT', `${R}/global/override/nope/enabled`, { enabled: true })).status).toBe(404);
    expect((await call(p, alice, 'DELETE', `${R}/global/override/nope`)).status).toBe(404);
    expect(await call(p, alice, 'GET', `${R}/global/weird/x`)).toMatchObject({ status: 400, body: { errcode: 'M_INVALID_PARAM' } });
  });
});

describe('changing push rules', () => {
  it('creates user rules first of their kind and reorders with before/after', async () => {
    const put = (id: string, q = '') =>
      call(p, alice, 'PUT', `${R}/global/override/${id}${q}`, {
        actions: ['notify'],
        conditions: [{ kind: 'event_match', key: 'type', pattern: id }],
      });
    const first = await put('one');
    expect(first.status).toBe(200);
    spec.assertResponse('PUT', `${R}/global/override/one`, 200, first.body);
    await put('two'); // new rules are the most important user rule
    const order = async () =>
      ids((await call(p, alice, 'GET', `${R}/global/`)).body.override).filter(
        (id) => !id.startsWith('.m.rule.') || id === '.m.rule.master',
      );
    expect(await order()).toEqual(['.m.rule.master', 'two', 'one']);
    await put('three', '?before=one');
    expect(await order()).toEqual(['.m.rule.master', 'two', 'three', 'one']);
    await put('two', '?after=one');
    expect(await order()).toEqual(['.m.rule.master', 'three', 'one', 'two']);
    await put('three'); // updating without before/after keeps the place
    expect(await order()).toEqual(['.m.rule.master', 'three', 'one', 'two']);
    const full = (await call(p, alice, 'GET', `${R}/global/`)).body.override;
    expect(ids(full).slice(4, 6)).toEqual(['.m.rule.suppress_notices', '.m.rule.invite_for_me']); // defaults follow user rules
    const missing = await call(p, alice, 'PUT', `${R}/global/override/four?before=nope`, { actions: [] });
    expect(missing.status).toBe(400);
    spec.assertResponse('PUT', `${R}/global/override/four?before=nope`, 400, missing.body);
    expect((await call(p, alice, 'PUT', `${R}/global/override/four?after=.m.rule.master`, { actions: [] })).status).toBe(400);
    const del = await call(p, alice, 'DELETE', `${R}/global/override/three`);
    spec.assertResponse('DELETE', `${R}/global/override/three`, 200, del.body);
    expect(await order()).toEqual(['.m.rule.master', 'one', 'two']);
  });

  it('content, room and sender rules have their own shapes', async () => {
    const roomId = '!abc:test.local';
    expect((await call(p, alice, 'PUT', `${R}/global/content/cake`, { pattern: 'cake*lie', actions: ['notify'] })).status).toBe(200);
    expect((await call(p, alice, 'PUT', `${R}/global/room/${enc(roomId)}`, { actions: [] })).status).toBe(200);
    expect((await call(p, alice, 'PUT', `${R}/global/sender/${enc(bob.userId)}`, { actions: ['notify'] })).status).toBe(200);
    const g = (await call(p, alice, 'GET', `${R}/global/`)).body;
    spec.assertResponse('GET', `${R}/global/`, 200, g);
    expect(g.content[0]).toEqual({ rule_id: 'cake', default: false, enabled: true, pattern: 'cake*lie', actions: ['notify'] });
    expect(g.room).toEqual([{ rule_id: roomId, default: false, enabled: true, actions: [] }]);
    expect(g.sender).toEqual([{ rule_id: bob.userId, default: false, enabled: true, actions: ['notify'] }]);
    const rule = await call(p, alice, 'GET', `${R}/global/room/${enc(roomId)}`);
    spec.assertResponse('GET', `${R}/global/room/${enc(roomId)}`, 200, rule.body);
    // The evaluator runs the stored rules.
    const ruleset = await p.services.userData.pushRules.ruleset(alice.userId);
    const ev = { type: 'm.room.message', sender: bob.userId, room_id: '!other:test.local', content: { body: 'the cake is a lie' } };
    expect(evaluatePushRules(ev, { userId: alice.userId, roomMemberCount: 3, senderPowerLevel: 0, ruleset }).ruleId).toBe('cake');
    expect(
      evaluatePushRules({ ...ev, room_id: roomId }, { userId: alice.userId, roomMemberCount: 3, senderPowerLevel: 0, ruleset }).ruleId,
    ).toBe('cake');
  });

  it('refuses bad bodies and reserved ids', async () => {
    const bad = async (url: string, body: unknown, errcode: string) =>
      expect(await call(p, alice, 'PUT', url, body)).toMatchObject({ status: 400, body: { errcode } });
    await bad(`${R}/global/override/x`, { conditions: [] }, 'M_MISSING_PARAM');
    await bad(`${R}/global/override/x`, { actions: 'notify' }, 'M_BAD_JSON');
    await bad(`${R}/global/override/x`, { actions: [], conditions: [{ key: 'type' }] }, 'M_MISSING_PARAM');
    await bad(`${R}/global/override/x`, { actions: ['explode'] }, 'M_INVALID_PARAM');
    await bad(`${R}/global/override/.m.rule.mine`, { actions: [] }, 'M_INVALID_PARAM');
    await bad(`${R}/global/override/a%2Fb`, { actions: [] }, 'M_INVALID_PARAM');
    await bad(`${R}/global/content/x`, { actions: [] }, 'M_MISSING_PARAM');
    await bad(`${R}/global/room/not-a-room`, { actions: [] }, 'M_INVALID_PARAM');
    await bad(`${R}/global/sender/bob`, { actions: [] }, 'M_INVALID_PARAM');
    await bad(`${R}/global/override/.m.rule.master/enabled`, { enabled: 'yes' }, 'M_BAD_JSON');
    await bad(`${R}/global/override/.m.rule.master/actions`, { actions: [7] }, 'M_BAD_JSON');
    expect((await call(p, alice, 'DELETE', `${R}/global/override/.m.rule.master`)).status).toBe(400);
  });

  it('server-default rules can be disabled and given new actions, per user', async () => {
    const en = await call(p, alice, 'PUT', `${R}/global/override/.m.rule.master/enabled`, { enabled: true });
    spec.assertResponse('PUT', `${R}/global/override/.m.rule.master/enabled`, 200, en.body);
    const act = await call(p, alice, 'PUT', `${R}/global/underride/.m.rule.message/actions`, {
      actions: ['notify', { set_tweak: 'sound', value: 'x' }],
    });
    spec.assertResponse('PUT', `${R}/global/underride/.m.rule.message/actions`, 200, act.body);
    await call(p, alice, 'PUT', `${R}/global/override/one/enabled`, { enabled: false });
    const g = (await call(p, alice, 'GET', `${R}/global/`)).body;
    expect(g.override[0]).toMatchObject({ rule_id: '.m.rule.master', enabled: true, default: true });
    expect(g.override.find((r: { rule_id: string }) => r.rule_id === 'one').enabled).toBe(false);
    expect(g.underride.find((r: { rule_id: string }) => r.rule_id === '.m.rule.message').actions).toEqual([
      'notify',
      { set_tweak: 'sound', value: 'x' },
    ]);
    // bob is untouched
    const b = (await call(p, bob, 'GET', `${R}/`)).body.global;
    expect(b.override[0].enabled).toBe(false);
    expect(b.override.some((r: { rule_id: string }) => r.rule_id === 'one')).toBe(false);
    await call(p, alice, 'PUT', `${R}/global/override/.m.rule.master/enabled`, { enabled: false });
  });

  it('every change is published as m.push_rules account data and reaches sync', async () => {
    const carol = await makeUser(p, 'carol');
    const first = await call(p, carol, 'GET', '/_matrix/client/v3/sync');
    const initial = first.body.account_data.events.find((e: { type: string }) => e.type === 'm.push_rules');
    expect(ids(initial.content.global.override)[0]).toBe('.m.rule.master');
    await call(p, carol, 'PUT', `${R}/global/sender/${enc(bob.userId)}`, { actions: [] });
    const next = await call(p, carol, 'GET', `/_matrix/client/v3/sync?since=${first.body.next_batch}`);
    const rules = next.body.account_data.events.find((e: { type: string }) => e.type === 'm.push_rules');
    expect(rules.content.global.sender).toEqual([{ rule_id: bob.userId, default: false, enabled: true, actions: [] }]);
    const viaAccountData = await call(p, carol, 'GET', `/_matrix/client/v3/user/${enc(carol.userId)}/account_data/m.push_rules`);
    expect(viaAccountData.body).toEqual(rules.content);
  });
});
