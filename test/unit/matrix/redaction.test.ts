import { describe, expect, it } from 'vitest';
import { redactedContent, redactEvent } from '../../../homeserver/matrix/redaction.js';

/** An event carrying every top-level key the algorithms mention, plus ones neither keeps. */
function fullEvent(type: string, content: Record<string, unknown>, stateKey?: string) {
  return {
    event_id: '$e',
    type,
    room_id: '!r:example.org',
    sender: '@a:example.org',
    ...(stateKey !== undefined ? { state_key: stateKey } : {}),
    content,
    hashes: { sha256: 'h' },
    signatures: { 'example.org': { 'ed25519:1': 's' } },
    depth: 4,
    prev_events: ['$p'],
    auth_events: ['$a'],
    origin_server_ts: 1,
    origin: 'example.org',
    membership: 'join',
    prev_state: [],
    unsigned: { age: 1 },
    redacts: '$x',
    custom_top_level: true,
  };
}

function without(obj: Record<string, unknown>, ...keys: string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(obj).filter(([k]) => !keys.includes(k)));
}

const ESSENTIAL = [
  'event_id',
  'type',
  'room_id',
  'sender',
  'state_key',
  'content',
  'hashes',
  'signatures',
  'depth',
  'prev_events',
  'auth_events',
  'origin_server_ts',
];

describe('top-level keys', () => {
  it('v10 keeps the essential keys plus origin, membership and prev_state', () => {
    const out = redactEvent(fullEvent('m.room.member', { membership: 'join' }, '@a:example.org'), '10');
    expect(Object.keys(out).sort()).toEqual([...ESSENTIAL, 'origin', 'membership', 'prev_state'].sort());
  });

  it('v11 drops origin, membership and prev_state', () => {
    const out = redactEvent(fullEvent('m.room.member', { membership: 'join' }, '@a:example.org'), '11');
    expect(Object.keys(out).sort()).toEqual([...ESSENTIAL].sort());
  });

  it('both drop unsigned, a top-level redacts and unknown keys', () => {
    for (const version of ['10', '11'] as const) {
      const out = redactEvent(fullEvent('m.room.redaction', { redacts: '$x' }), version) as Record<string, unknown>;
      expect(out.unsigned).toBeUndefined();
      expect(out.redacts).toBeUndefined();
      expect(out.custom_top_level).toBeUndefined();
    }
  });

  it('always has a content object, and does not modify its input', () => {
    const ev = fullEvent('m.room.message', { body: 'secret' });
    const copy = structuredClone(ev);
    expect(redactEvent(ev, '11').content).toEqual({});
    expect(redactEvent({ type: 'm.room.message' }, '10')).toEqual({ type: 'm.room.message', content: {} });
    expect(ev).toEqual(copy);
  });

  it('is idempotent', () => {
    const once = redactEvent(fullEvent('m.room.power_levels', { ban: 50, invite: 0, x: 1 }, ''), '11');
    expect(redactEvent(once, '11')).toEqual(once);
  });
});

describe('content by event type', () => {
  const member = {
    membership: 'invite',
    join_authorised_via_users_server: '@x:example.org',
    displayname: 'D',
    avatar_url: 'mxc://a/b',
    reason: 'r',
    third_party_invite: { display_name: 'd', signed: { mxid: '@a:b', token: 't', signatures: {} } },
  };

  it('m.room.member keeps membership and join_authorised_via_users_server in both', () => {
    expect(redactedContent('m.room.member', member, '10')).toEqual({
      membership: 'invite',
      join_authorised_via_users_server: '@x:example.org',
    });
  });

  it('v11 m.room.member also keeps third_party_invite.signed (and nothing else of it)', () => {
    expect(redactedContent('m.room.member', member, '11')).toEqual({
      membership: 'invite',
      join_authorised_via_users_server: '@x:example.org',
      third_party_invite: { signed: { mxid: '@a:b', token: 't', signatures: {} } },
    });
    expect(redactedContent('m.room.member', { membership: 'invite', third_party_invite: { display_name: 'd' } }, '11')).toEqual({
      membership: 'invite',
    });
  });

  const create = {
    creator: '@a:example.org',
    room_version: '10',
    'm.federate': false,
    predecessor: { room_id: '!old:example.org' },
    type: 'm.space',
  };

  it('v10 m.room.create keeps only creator', () => {
    expect(redactedContent('m.room.create', create, '10')).toEqual({ creator: '@a:example.org' });
  });

  it('v11 m.room.create keeps all of its content', () => {
    expect(redactedContent('m.room.create', create, '11')).toEqual(create);
  });

  it('m.room.join_rules keeps join_rule and allow', () => {
    const jr = { join_rule: 'restricted', allow: [{ type: 'm.room_membership', room_id: '!s:example.org' }], other: 1 };
    for (const v of ['10', '11'] as const)
      expect(redactedContent('m.room.join_rules', jr, v)).toEqual({ join_rule: 'restricted', allow: jr.allow });
  });

  const pl = {
    ban: 50,
    events: { 'm.room.name': 50 },
    events_default: 0,
    invite: 0,
    kick: 50,
    redact: 50,
    state_default: 50,
    users: { '@a:example.org': 100 },
    users_default: 0,
    notifications: { room: 50 },
    historical: 100,
  };

  it('v10 m.room.power_levels drops invite (and notifications)', () => {
    expect(redactedContent('m.room.power_levels', pl, '10')).toEqual(without(pl, 'invite', 'notifications', 'historical'));
  });

  it('v11 m.room.power_levels keeps invite but not notifications', () => {
    expect(redactedContent('m.room.power_levels', pl, '11')).toEqual(without(pl, 'notifications', 'historical'));
  });

  it('m.room.history_visibility keeps history_visibility', () => {
    for (const v of ['10', '11'] as const) {
      expect(redactedContent('m.room.history_visibility', { history_visibility: 'shared', x: 1 }, v)).toEqual({
        history_visibility: 'shared',
      });
    }
  });

  it('m.room.redaction keeps content.redacts in v11 only', () => {
    expect(redactedContent('m.room.redaction', { redacts: '$x', reason: 'spam' }, '10')).toEqual({});
    expect(redactedContent('m.room.redaction', { redacts: '$x', reason: 'spam' }, '11')).toEqual({ redacts: '$x' });
  });

  it('other types keep no content, including state events such as m.room.name', () => {
    for (const v of ['10', '11'] as const) {
      expect(redactedContent('m.room.name', { name: 'n' }, v)).toEqual({});
      expect(redactedContent('m.room.message', { body: 'b', msgtype: 'm.text' }, v)).toEqual({});
      expect(redactedContent('m.room.topic', { topic: 't' }, v)).toEqual({});
    }
  });

  it('keeps only keys actually present and tolerates non-object content', () => {
    expect(redactedContent('m.room.power_levels', { ban: 50 }, '11')).toEqual({ ban: 50 });
    expect(redactedContent('m.room.member', null, '11')).toEqual({});
    expect(redactedContent('m.room.member', ['membership'], '11')).toEqual({});
  });

  it('throws M_UNSUPPORTED_ROOM_VERSION for other versions', () => {
    expect(() => redactEvent({}, '9' as never)).toThrow(/not supported/);
  });
});
