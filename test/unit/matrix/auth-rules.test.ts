import { describe, expect, it } from 'vitest';
import { authEventKeysFor, canRedact, checkAuthEvents } from '../../../homeserver/matrix/auth-rules.js';
import { computeEventId } from '../../../homeserver/matrix/event-hashes.js';
import { SUPPORTED_ROOM_VERSIONS } from '../../../homeserver/matrix/room-versions.js';
import { hashAndSignEvent, signingKeyFromSeed, signJson } from '../../../homeserver/matrix/signing.js';
import {
  ALICE,
  BOB,
  CAROL,
  DAVE,
  REMOTE,
  ROOM_ID,
  TestRoom,
  createEvent,
  defaultPowerLevels,
  expectAllowed,
  expectForbidden,
  makeRoom,
} from './fixtures.js';

// The rules below are shared by v10 and v11; every case runs under both.
describe.each(SUPPORTED_ROOM_VERSIONS)('auth rules shared by v10 and v11 (room version %s)', (version) => {
  describe('rule 1: m.room.create', () => {
    it('allows a well-formed create event', () => {
      expectAllowed(new TestRoom(version), createEvent(version));
    });

    it('rejects a create event with prev_events', () => {
      expectForbidden(new TestRoom(version), { ...createEvent(version), prev_events: ['$x'] }, /prev_events/);
    });

    it("rejects a create event whose room id domain is not the sender's", () => {
      expectForbidden(new TestRoom(version), createEvent(version, '@alice:elsewhere.test'), /domain/);
    });

    it('rejects a create event with an unrecognised room_version', () => {
      const ev = createEvent(version);
      ev.content.room_version = '9000';
      expectForbidden(new TestRoom(version), ev, /unrecognised room version/);
    });

    it('rejects a create event declaring another version than the one it is checked under', () => {
      const ev = createEvent(version === '10' ? '11' : '10');
      ev.content.creator = ALICE;
      expectForbidden(new TestRoom(version), ev, /declares room version/);
    });
  });

  describe('rules 2-3: create event and m.federate', () => {
    it('rejects any other event when the room state has no create event', () => {
      const room = new TestRoom(version);
      expectForbidden(room, room.member(ALICE, 'join'), /No m\.room\.create/);
    });

    it('rejects an event whose create event belongs to another room', () => {
      const room = makeRoom(version);
      room.put(createEvent(version, ALICE, '!other:example.org'));
      expectForbidden(room, room.event('m.room.message', ALICE, { body: 'hi' }), /another room/);
    });

    it('rejects users of other servers when m.federate is false', () => {
      const room = makeRoom(version, { joinRule: 'public', createContent: { 'm.federate': false } });
      expectForbidden(room, room.member(REMOTE, 'join'), /does not allow users from other servers/);
    });

    it("allows the creator's own server when m.federate is false", () => {
      const room = makeRoom(version, { joinRule: 'public', createContent: { 'm.federate': false } });
      expectAllowed(room, room.member(BOB, 'join'));
    });
  });

  describe('rule 4.1-4.2: membership event shape and restricted-join signature', () => {
    it('rejects a member event without a state_key', () => {
      const room = makeRoom(version);
      expectForbidden(room, room.event('m.room.member', ALICE, { membership: 'join' }), /state_key/);
    });

    it('rejects a member event without content.membership', () => {
      const room = makeRoom(version);
      expectForbidden(room, room.event('m.room.member', ALICE, { displayname: 'A' }, ALICE), /membership/);
    });

    it('rejects join_authorised_via_users_server when that server has not signed the event', () => {
      const room = makeRoom(version, { joinRule: 'restricted', members: { [REMOTE]: 'join' } });
      room.setPowerLevels(defaultPowerLevels({ [ALICE]: 100, [REMOTE]: 50 }));
      const join = {
        ...room.member(BOB, 'join', BOB, { join_authorised_via_users_server: REMOTE }),
        hashes: { sha256: 'x' },
        signatures: { 'example.org': { 'ed25519:a': 'sig' } },
      };
      expectForbidden(room, join, /not signed by remote\.test/);
    });

    it("uses the caller's signature verifier for join_authorised_via_users_server", () => {
      const room = makeRoom(version, { joinRule: 'restricted', members: { [CAROL]: 'join' } });
      room.setPowerLevels(defaultPowerLevels({ [ALICE]: 100, [CAROL]: 50 }));
      const join = room.member(BOB, 'join', BOB, { join_authorised_via_users_server: CAROL });
      expectForbidden(room, join, /not signed/, { isSignedBy: () => false });
      expectAllowed(room, join, { isSignedBy: (server) => server === 'example.org' });
    });
  });

  describe('rule 4.3: join', () => {
    it("allows the creator's first join right after create", () => {
      const room = new TestRoom(version).put(createEvent(version));
      expectAllowed(room, room.member(ALICE, 'join'));
    });

    it("allows the creator's first join whose prev event is the signed create event's id", () => {
      const key = signingKeyFromSeed(Buffer.alloc(32, 7), '1');
      const create = hashAndSignEvent(createEvent(version), version, 'example.org', key);
      const room = new TestRoom(version).put(create);
      const join = { ...room.member(ALICE, 'join'), prev_events: [computeEventId(create, version)] };
      expectAllowed(room, join);
    });

    it("rejects the creator's 'first join' when its prev event is not the create event", () => {
      const key = signingKeyFromSeed(Buffer.alloc(32, 7), '1');
      const room = new TestRoom(version).put(hashAndSignEvent(createEvent(version), version, 'example.org', key));
      // With no join rules event the room counts as invite-only, so nothing else admits her.
      expectForbidden(room, { ...room.member(ALICE, 'join'), prev_events: ['$notTheCreate'] }, /not been invited/);
    });

    it('rejects a first join by someone other than the creator', () => {
      const room = new TestRoom(version).put(createEvent(version));
      expectForbidden(room, room.member(BOB, 'join'), /not been invited/);
    });

    it('rejects a join whose sender is not the state_key', () => {
      const room = makeRoom(version, { joinRule: 'public' });
      expectForbidden(room, room.member(BOB, 'join', ALICE), /cannot be made to join/);
    });

    it('rejects a join when banned, even in a public room', () => {
      const room = makeRoom(version, { joinRule: 'public', members: { [BOB]: 'ban' } });
      expectForbidden(room, room.member(BOB, 'join'), /banned/);
    });

    it('allows anyone to join a public room', () => {
      const room = makeRoom(version, { joinRule: 'public' });
      expectAllowed(room, room.member(BOB, 'join'));
      expectAllowed(room, room.member(REMOTE, 'join'));
    });

    it('rejects an uninvited join to an invite-only room', () => {
      const room = makeRoom(version, { joinRule: 'invite' });
      expectForbidden(room, room.member(BOB, 'join'), /not been invited/);
    });

    it('allows an invited user to join an invite-only room', () => {
      const room = makeRoom(version, { joinRule: 'invite', members: { [BOB]: 'invite' } });
      expectAllowed(room, room.member(BOB, 'join'));
    });

    it('allows a joined user to re-join (profile change) in an invite-only room', () => {
      const room = makeRoom(version, { joinRule: 'invite', members: { [BOB]: 'join' } });
      expectAllowed(room, room.member(BOB, 'join', BOB, { displayname: 'Bobby' }));
    });

    it('treats a knock room like an invite-only room for joins', () => {
      const room = makeRoom(version, { joinRule: 'knock', members: { [BOB]: 'invite', [CAROL]: 'knock' } });
      expectAllowed(room, room.member(BOB, 'join'));
      expectForbidden(room, room.member(CAROL, 'join'), /not been invited/);
    });

    it('treats a room without join rules as invite-only', () => {
      const room = makeRoom(version, { joinRule: null, members: { [BOB]: 'invite' } });
      expectAllowed(room, room.member(BOB, 'join'));
      expectForbidden(room, room.member(CAROL, 'join'), /not been invited/);
    });

    it('rejects joins under an unknown join rule', () => {
      const room = makeRoom(version, { joinRule: 'private' });
      expectForbidden(room, room.member(BOB, 'join'), /join rule "private"/);
    });

    it('allows an invited user to join a restricted room without an authoriser', () => {
      const room = makeRoom(version, { joinRule: 'restricted', members: { [BOB]: 'invite' } });
      expectAllowed(room, room.member(BOB, 'join'));
    });

    it('restricted join needs join_authorised_via_users_server', () => {
      const room = makeRoom(version, { joinRule: 'restricted' });
      expectForbidden(room, room.member(BOB, 'join'), /needs join_authorised_via_users_server/);
    });

    it('restricted join needs join_authorised_via_users_server with invite power', () => {
      const room = makeRoom(version, { joinRule: 'restricted', members: { [CAROL]: 'join' } });
      room.setPowerLevels({ ...defaultPowerLevels(), invite: 50 });
      const join = room.member(BOB, 'join', BOB, { join_authorised_via_users_server: CAROL });
      expectForbidden(room, join, /does not have the power to invite/);
      room.setPowerLevels({ ...defaultPowerLevels({ [ALICE]: 100, [CAROL]: 50 }), invite: 50 });
      expectAllowed(room, join);
    });

    it('restricted join needs the authorising user to be joined', () => {
      const room = makeRoom(version, { joinRule: 'restricted', members: { [CAROL]: 'leave' } });
      expectForbidden(room, room.member(BOB, 'join', BOB, { join_authorised_via_users_server: CAROL }), /not joined/);
    });

    it('knock_restricted accepts both an authorised join and an invited join', () => {
      const room = makeRoom(version, { joinRule: 'knock_restricted', members: { [DAVE]: 'invite' } });
      expectAllowed(room, room.member(BOB, 'join', BOB, { join_authorised_via_users_server: ALICE }));
      expectAllowed(room, room.member(DAVE, 'join'));
      expectForbidden(room, room.member(CAROL, 'join'), /join_authorised_via_users_server/);
    });
  });

  describe('rule 4.4: invite', () => {
    it('allows a joined member with the invite level to invite', () => {
      const room = makeRoom(version, { members: { [BOB]: 'join' } });
      expectAllowed(room, room.member(CAROL, 'invite', BOB));
    });

    it('rejects an invite from a sender who is not joined', () => {
      const room = makeRoom(version, { members: { [BOB]: 'invite' } });
      expectForbidden(room, room.member(CAROL, 'invite', BOB), /not joined/);
    });

    it('rejects inviting a user who is already joined', () => {
      const room = makeRoom(version, { members: { [BOB]: 'join' } });
      expectForbidden(room, room.member(BOB, 'invite', ALICE), /already in the room/);
    });

    it('rejects inviting a banned user', () => {
      const room = makeRoom(version, { members: { [BOB]: 'ban' } });
      expectForbidden(room, room.member(BOB, 'invite', ALICE), /banned/);
    });

    it('rejects an invite from a sender below the invite level', () => {
      const room = makeRoom(version, { members: { [BOB]: 'join' } });
      room.setPowerLevels({ ...defaultPowerLevels(), invite: 50 });
      expectForbidden(room, room.member(CAROL, 'invite', BOB), /Inviting needs power level 50/);
    });
  });

  describe('rule 4.4.1: third-party invites', () => {
    const idServerKey = signingKeyFromSeed(Buffer.alloc(32, 3), '0');

    function thirdPartyRoom(publicKeyField: 'public_key' | 'public_keys' = 'public_key') {
      const room = makeRoom(version, { members: { [BOB]: 'join' } });
      const content: Record<string, unknown> =
        publicKeyField === 'public_key'
          ? { display_name: 'c...@example.com', key_validity_url: 'https://id.test/isvalid', public_key: idServerKey.publicKeyBase64 }
          : {
              display_name: 'c...',
              public_key: 'AAAA',
              public_keys: [{ public_key: 'BBBB' }, { public_key: idServerKey.publicKeyBase64 }],
            };
      room.put(room.event('m.room.third_party_invite', BOB, content, 'tok123'));
      return room;
    }

    function signedBlock(overrides: Record<string, unknown> = {}) {
      return signJson({ mxid: CAROL, token: 'tok123', sender: BOB, ...overrides }, 'id.test', { ...idServerKey, keyId: 'ed25519:0' });
    }

    it('allows an invite carrying a block signed by the third-party invite key', () => {
      const room = thirdPartyRoom();
      expectAllowed(room, room.member(CAROL, 'invite', BOB, { third_party_invite: { display_name: 'c', signed: signedBlock() } }));
    });

    it('accepts a signature by any key listed in public_keys', () => {
      const room = thirdPartyRoom('public_keys');
      expectAllowed(room, room.member(CAROL, 'invite', BOB, { third_party_invite: { display_name: 'c', signed: signedBlock() } }));
    });

    it('rejects a third-party invite without a signed block', () => {
      const room = thirdPartyRoom();
      expectForbidden(room, room.member(CAROL, 'invite', BOB, { third_party_invite: { display_name: 'c' } }), /no signed block/);
    });

    it('rejects a signed block without mxid or token', () => {
      const room = thirdPartyRoom();
      const signed = signJson({ mxid: CAROL }, 'id.test', idServerKey);
      expectForbidden(room, room.member(CAROL, 'invite', BOB, { third_party_invite: { signed } }), /needs mxid and token/);
    });

    it('rejects a signed block whose mxid is not the invited user', () => {
      const room = thirdPartyRoom();
      expectForbidden(
        room,
        room.member(DAVE, 'invite', BOB, { third_party_invite: { signed: signedBlock() } }),
        /does not match the invited user/,
      );
    });

    it('rejects a token with no m.room.third_party_invite in the room', () => {
      const room = thirdPartyRoom();
      const signed = signedBlock({ token: 'other' });
      expectForbidden(room, room.member(CAROL, 'invite', BOB, { third_party_invite: { signed } }), /No m\.room\.third_party_invite/);
    });

    it('rejects completion by someone other than the sender of the third-party invite', () => {
      const room = thirdPartyRoom();
      expectForbidden(room, room.member(CAROL, 'invite', ALICE, { third_party_invite: { signed: signedBlock() } }), /Only the sender/);
    });

    it('rejects a signed block whose signature does not verify', () => {
      const room = thirdPartyRoom();
      const forged = { ...signedBlock(), mxid: CAROL, token: 'tok123', extra: 'tampered' };
      expectForbidden(room, room.member(CAROL, 'invite', BOB, { third_party_invite: { signed: forged } }), /not signed by any key/);
    });

    it('rejects a third-party invite of a banned user', () => {
      const room = thirdPartyRoom().setMember(CAROL, 'ban', ALICE);
      expectForbidden(room, room.member(CAROL, 'invite', BOB, { third_party_invite: { signed: signedBlock() } }), /banned/);
    });
  });

  describe('rule 4.5: leave and kick', () => {
    it('allows a joined user to leave', () => {
      const room = makeRoom(version, { members: { [BOB]: 'join' } });
      expectAllowed(room, room.member(BOB, 'leave'));
    });

    it('allows rejecting an invite and rescinding a knock', () => {
      const room = makeRoom(version, { joinRule: 'knock', members: { [BOB]: 'invite', [CAROL]: 'knock' } });
      expectAllowed(room, room.member(BOB, 'leave'));
      expectAllowed(room, room.member(CAROL, 'leave'));
    });

    it('rejects a self-leave by a banned user (no self-unban) or one who already left', () => {
      const room = makeRoom(version, { members: { [BOB]: 'ban', [CAROL]: 'leave' } });
      expectForbidden(room, room.member(BOB, 'leave'), /cannot leave a room with membership ban/);
      expectForbidden(room, room.member(CAROL, 'leave'), /cannot leave/);
      expectForbidden(room, room.member(DAVE, 'leave'), /cannot leave/);
    });

    it('kick requires kick level and target lower than sender', () => {
      const room = makeRoom(version, { members: { [BOB]: 'join', [CAROL]: 'join', [DAVE]: 'join' } });
      room.setPowerLevels(defaultPowerLevels({ [ALICE]: 100, [BOB]: 50, [CAROL]: 50 }));
      expectAllowed(room, room.member(DAVE, 'leave', BOB));
      expectForbidden(room, room.member(CAROL, 'leave', BOB), /not lower than the sender's/);
      expectForbidden(room, room.member(BOB, 'leave', DAVE), /Kicking needs power level 50/);
    });

    it('rejects a kick by a sender who is not joined', () => {
      const room = makeRoom(version, { members: { [BOB]: 'leave', [CAROL]: 'join' } });
      room.setPowerLevels(defaultPowerLevels({ [ALICE]: 100, [BOB]: 100 }));
      expectForbidden(room, room.member(CAROL, 'leave', BOB), /not joined/);
    });

    it('unbanning needs the ban level as well as the kick level', () => {
      const room = makeRoom(version, { members: { [BOB]: 'join', [CAROL]: 'ban' } });
      room.setPowerLevels({ ...defaultPowerLevels({ [ALICE]: 100, [BOB]: 50 }), ban: 75 });
      expectForbidden(room, room.member(CAROL, 'leave', BOB), /Unbanning needs power level 75/);
      room.setPowerLevels({ ...defaultPowerLevels({ [ALICE]: 100, [BOB]: 75 }), ban: 75, kick: 80 });
      expectForbidden(room, room.member(CAROL, 'leave', BOB), /Kicking needs power level 80/);
      expectAllowed(room, room.member(CAROL, 'leave', ALICE));
    });
  });

  describe('rule 4.6: ban', () => {
    it('allows a ban by a sender with the ban level over a lower user', () => {
      const room = makeRoom(version, { members: { [BOB]: 'join' } });
      expectAllowed(room, room.member(BOB, 'ban', ALICE));
      expectAllowed(room, room.member(REMOTE, 'ban', ALICE)); // not in the room: pre-emptive ban
    });

    it('rejects a ban by a sender below the ban level', () => {
      const room = makeRoom(version, { members: { [BOB]: 'join', [CAROL]: 'join' } });
      room.setPowerLevels(defaultPowerLevels({ [ALICE]: 100, [BOB]: 49 }));
      expectForbidden(room, room.member(CAROL, 'ban', BOB), /Banning needs power level 50/);
    });

    it('rejects banning a user at or above the sender', () => {
      const room = makeRoom(version, { members: { [BOB]: 'join' } });
      room.setPowerLevels(defaultPowerLevels({ [ALICE]: 100, [BOB]: 100 }));
      expectForbidden(room, room.member(BOB, 'ban', ALICE), /not lower than the sender's/);
    });

    it('rejects a ban by a sender who is not joined', () => {
      const room = makeRoom(version, { members: { [BOB]: 'invite' } });
      room.setPowerLevels(defaultPowerLevels({ [ALICE]: 100, [BOB]: 100 }));
      expectForbidden(room, room.member(CAROL, 'ban', BOB), /not joined/);
    });
  });

  describe('rule 4.7-4.8: knock and unknown memberships', () => {
    it('allows a knock when the join rule is knock or knock_restricted', () => {
      expectAllowed(makeRoom(version, { joinRule: 'knock' }), makeRoom(version).member(BOB, 'knock'));
      expectAllowed(makeRoom(version, { joinRule: 'knock_restricted' }), makeRoom(version).member(BOB, 'knock'));
    });

    it('rejects a knock on a room that does not accept knocks', () => {
      const room = makeRoom(version, { joinRule: 'invite' });
      expectForbidden(room, room.member(BOB, 'knock'), /does not accept knocks/);
    });

    it('rejects a knock on behalf of someone else', () => {
      const room = makeRoom(version, { joinRule: 'knock' });
      expectForbidden(room, room.member(BOB, 'knock', ALICE), /own behalf/);
    });

    it('rejects a knock by a user who is banned, invited or joined', () => {
      const room = makeRoom(version, { joinRule: 'knock', members: { [BOB]: 'ban', [CAROL]: 'invite' } });
      expectForbidden(room, room.member(BOB, 'knock'), /banned/);
      expectForbidden(room, room.member(CAROL, 'knock'), /already invited/);
      expectForbidden(room, room.member(ALICE, 'knock'), /already in/);
    });

    it('rejects an unknown membership', () => {
      const room = makeRoom(version);
      expectForbidden(room, room.member(ALICE, 'dance'), /Unknown membership/);
    });
  });

  describe('rules 5-8: non-membership events', () => {
    it('rejects events from a sender who is not joined', () => {
      const room = makeRoom(version, { members: { [BOB]: 'invite' } });
      expectForbidden(room, room.event('m.room.message', BOB, { body: 'hi' }), /not joined/);
      expectForbidden(room, room.event('m.room.message', CAROL, { body: 'hi' }), /not joined/);
    });

    it('allows a message at events_default', () => {
      const room = makeRoom(version, { members: { [BOB]: 'join' } });
      expectAllowed(room, room.event('m.room.message', BOB, { body: 'hi' }));
    });

    it('rejects a state event below state_default', () => {
      const room = makeRoom(version, { members: { [BOB]: 'join' } });
      expectForbidden(room, room.event('m.room.topic', BOB, { topic: 't' }, ''), /needs power level 50, sender has 0/);
    });

    it('uses the events map over the defaults', () => {
      const room = makeRoom(version, { members: { [BOB]: 'join' } });
      room.setPowerLevels({ ...defaultPowerLevels({ [ALICE]: 100, [BOB]: 50 }), events: { 'm.room.name': 60, 'm.reaction': 10 } });
      expectForbidden(room, room.event('m.room.name', BOB, { name: 'n' }, ''), /needs power level 60/);
      expectAllowed(room, room.event('m.room.topic', BOB, { topic: 't' }, ''));
      room.setPowerLevels({ ...defaultPowerLevels({ [ALICE]: 100 }), events: { 'm.reaction': 10 } });
      expectForbidden(room, room.event('m.reaction', BOB, {}), /needs power level 10/);
    });

    it('m.room.third_party_invite needs the invite level, not its events entry', () => {
      const room = makeRoom(version, { members: { [BOB]: 'join' } });
      room.setPowerLevels({ ...defaultPowerLevels(), events: { 'm.room.third_party_invite': 100 } });
      expectAllowed(room, room.event('m.room.third_party_invite', BOB, { public_key: 'x' }, 'tok'));
      room.setPowerLevels({ ...defaultPowerLevels(), invite: 10 });
      expectForbidden(room, room.event('m.room.third_party_invite', BOB, { public_key: 'x' }, 'tok'), /needs power level 10/);
    });

    it("rejects a state_key starting with '@' that is not the sender", () => {
      const room = makeRoom(version, { members: { [BOB]: 'join' } });
      room.setPowerLevels({ ...defaultPowerLevels(), state_default: 0 });
      expectForbidden(room, room.event('org.example.status', BOB, {}, ALICE), /Only @alice/);
      expectAllowed(room, room.event('org.example.status', BOB, {}, BOB));
    });

    it('allows a redaction event regardless of the redact level (that is checked when applying it)', () => {
      const room = makeRoom(version, { members: { [BOB]: 'join' } });
      expectAllowed(room, room.event('m.room.redaction', BOB, { redacts: '$x' }, undefined, version === '10' ? { redacts: '$x' } : {}));
    });

    it('holds m.room.redaction to its events entry', () => {
      const room = makeRoom(version, { members: { [BOB]: 'join' } });
      room.setPowerLevels({ ...defaultPowerLevels(), events: { 'm.room.redaction': 20 } });
      expectForbidden(room, room.event('m.room.redaction', BOB, { redacts: '$x' }), /needs power level 20/);
    });

    it('gives the creator 100 and everyone else 0 while there is no power levels event', () => {
      const room = makeRoom(version, { powerLevels: null, joinRule: 'public', members: { [BOB]: 'join' } });
      expectAllowed(room, room.event('m.room.name', ALICE, { name: 'n' }, ''));
      expectForbidden(room, room.event('m.room.name', BOB, { name: 'n' }, ''), /needs power level 50, sender has 0/);
    });
  });

  describe('rule 9: m.room.power_levels', () => {
    it('allows the first power levels event', () => {
      const room = makeRoom(version, { powerLevels: null });
      expectAllowed(room, room.event('m.room.power_levels', ALICE, defaultPowerLevels({ [ALICE]: 100, [BOB]: 100 }), ''));
    });

    it('rejects non-integer power levels (strings of digits included)', () => {
      const room = makeRoom(version);
      for (const bad of ['50', 50.5, true, null]) {
        expectForbidden(
          room,
          room.event('m.room.power_levels', ALICE, { ...defaultPowerLevels(), ban: bad }, ''),
          /'ban' must be an integer/,
        );
      }
      expectForbidden(room, room.event('m.room.power_levels', ALICE, { ...defaultPowerLevels(), users_default: '0' }, ''), /users_default/);
    });

    it('rejects non-integer values in events or notifications', () => {
      const room = makeRoom(version);
      expectForbidden(
        room,
        room.event('m.room.power_levels', ALICE, { ...defaultPowerLevels(), events: { 'm.room.name': '50' } }, ''),
        /events\.m\.room\.name/,
      );
      expectForbidden(
        room,
        room.event('m.room.power_levels', ALICE, { ...defaultPowerLevels(), notifications: { room: 1.5 } }, ''),
        /notifications\.room/,
      );
      expectForbidden(
        room,
        room.event('m.room.power_levels', ALICE, { ...defaultPowerLevels(), events: [] }, ''),
        /'events' must be an object/,
      );
    });

    it('rejects users entries that are not user IDs or not integers', () => {
      const room = makeRoom(version);
      expectForbidden(
        room,
        room.event('m.room.power_levels', ALICE, defaultPowerLevels({ [ALICE]: 100, 'bob:example.org': 0 }), ''),
        /not a valid user ID/,
      );
      expectForbidden(
        room,
        room.event('m.room.power_levels', ALICE, defaultPowerLevels({ [ALICE]: 100, [BOB]: '50' as never }), ''),
        /must be an integer/,
      );
    });

    it('rejects a power level change that raises a user above the sender', () => {
      const room = makeRoom(version, { members: { [BOB]: 'join' } });
      room.setPowerLevels({ ...defaultPowerLevels({ [ALICE]: 100, [BOB]: 50 }), events: { 'm.room.power_levels': 50 } });
      const pl = (users: Record<string, number>) =>
        room.event('m.room.power_levels', BOB, { ...defaultPowerLevels(users), events: { 'm.room.power_levels': 50 } }, '');
      expectForbidden(room, pl({ [ALICE]: 100, [BOB]: 50, [CAROL]: 51 }), /Cannot give @carol:example\.org level 51/);
      expectForbidden(room, pl({ [ALICE]: 100, [BOB]: 60 }), /Cannot give @bob:example\.org level 60/);
      expectAllowed(room, pl({ [ALICE]: 100, [BOB]: 50, [CAROL]: 50 }));
    });

    it("rejects changing the level of a user at or above the sender's level, but allows demoting oneself", () => {
      const room = makeRoom(version, { members: { [BOB]: 'join' } });
      const base = (users: Record<string, number>) => ({ ...defaultPowerLevels(users), events: { 'm.room.power_levels': 50 } });
      room.setPowerLevels(base({ [ALICE]: 100, [BOB]: 50, [CAROL]: 50 }));
      expectForbidden(
        room,
        room.event('m.room.power_levels', BOB, base({ [ALICE]: 100, [BOB]: 50, [CAROL]: 0 }), ''),
        /level of @carol:example\.org \(50\)/,
      );
      expectForbidden(room, room.event('m.room.power_levels', BOB, base({ [BOB]: 50, [CAROL]: 50 }), ''), /level of @alice/);
      expectAllowed(room, room.event('m.room.power_levels', BOB, base({ [ALICE]: 100, [BOB]: 10, [CAROL]: 50 }), ''));
    });

    it('rejects changing a level whose current value is above the sender, or setting one above the sender', () => {
      const room = makeRoom(version, { members: { [BOB]: 'join' } });
      const base = { ...defaultPowerLevels({ [ALICE]: 100, [BOB]: 50 }), events: { 'm.room.power_levels': 50 } };
      room.setPowerLevels({ ...base, ban: 75 });
      expectForbidden(room, room.event('m.room.power_levels', BOB, { ...base, ban: 40 }, ''), /Cannot change 'ban' from 75/);
      room.setPowerLevels({ ...base, ban: 40 });
      expectForbidden(room, room.event('m.room.power_levels', BOB, { ...base, ban: 60 }, ''), /Cannot set 'ban' to 60/);
      expectAllowed(room, room.event('m.room.power_levels', BOB, { ...base, ban: 50 }, ''));
    });

    it('guards events and notifications entries the same way', () => {
      const room = makeRoom(version, { members: { [BOB]: 'join' } });
      const base = defaultPowerLevels({ [ALICE]: 100, [BOB]: 50 });
      room.setPowerLevels({ ...base, events: { 'm.room.power_levels': 50, 'm.room.tombstone': 100 } });
      const send = (events: Record<string, number>, notifications?: Record<string, number>) =>
        room.event('m.room.power_levels', BOB, { ...base, events, ...(notifications ? { notifications } : {}) }, '');
      expectForbidden(room, send({ 'm.room.power_levels': 50 }), /Cannot change events\.m\.room\.tombstone from 100/);
      expectForbidden(
        room,
        send({ 'm.room.power_levels': 50, 'm.room.tombstone': 100, 'm.room.name': 51 }),
        /Cannot set events\.m\.room\.name to 51/,
      );
      expectForbidden(room, send({ 'm.room.power_levels': 50, 'm.room.tombstone': 100 }, { room: 60 }), /notifications\.room to 60/);
      expectAllowed(room, send({ 'm.room.power_levels': 50, 'm.room.tombstone': 100, 'm.room.name': 50 }, { room: 50 }));
    });

    it('rejects a power levels change by a sender below the power levels event level', () => {
      const room = makeRoom(version, { members: { [BOB]: 'join' } });
      room.setPowerLevels(defaultPowerLevels({ [ALICE]: 100, [BOB]: 50 }));
      expectForbidden(
        room,
        room.event('m.room.power_levels', BOB, defaultPowerLevels({ [ALICE]: 100, [BOB]: 50 }), ''),
        /needs power level 100/,
      );
    });
  });

  describe('checkAuthEvents (rule 2 on the auth_events list)', () => {
    const room = makeRoom(version, { joinRule: 'public', members: { [BOB]: 'join' } });
    const create = room.get('m.room.create', '')!;
    const pl = room.get('m.room.power_levels', '')!;
    const aliceMember = room.get('m.room.member', ALICE)!;

    it('accepts the auth events the selection algorithm picks', () => {
      expect(() => checkAuthEvents(room.event('m.room.message', ALICE, {}), [create, pl, aliceMember], version)).not.toThrow();
    });

    it('rejects duplicate (type, state_key) entries', () => {
      expect(() => checkAuthEvents(room.event('m.room.message', ALICE, {}), [create, pl, pl], version)).toThrow(/Duplicate/);
    });

    it('rejects entries the selection algorithm does not allow', () => {
      const name = room.event('m.room.name', ALICE, { name: 'x' }, '');
      const bobMember = room.get('m.room.member', BOB)!;
      expect(() => checkAuthEvents(room.event('m.room.message', ALICE, {}), [create, name], version)).toThrow(
        /not one this event may cite/,
      );
      expect(() => checkAuthEvents(room.event('m.room.message', ALICE, {}), [create, bobMember], version)).toThrow(
        /not one this event may cite/,
      );
    });

    it('rejects a list without the create event', () => {
      expect(() => checkAuthEvents(room.event('m.room.message', ALICE, {}), [pl], version)).toThrow(/m\.room\.create/);
    });

    it('rejects auth events from another room', () => {
      expect(() => checkAuthEvents(room.event('m.room.message', ALICE, {}), [{ ...create, room_id: '!x:example.org' }], version)).toThrow(
        /another room/,
      );
    });

    it('requires an m.room.create to have no auth events', () => {
      expect(() => checkAuthEvents(createEvent(version), [], version)).not.toThrow();
      expect(() => checkAuthEvents(createEvent(version), [create], version)).toThrow(/must not have auth events/);
    });
  });
});

describe('room version differences', () => {
  it('v10 rejects a create event without content.creator', () => {
    const ev = createEvent('10');
    delete ev.content.creator;
    expectForbidden(new TestRoom('10'), ev, /no creator/);
  });

  it('v11 allows a create event without content.creator', () => {
    expectAllowed(new TestRoom('11'), createEvent('11'));
  });

  it("v10's creator is content.creator; v11's is the create event's sender", () => {
    // A create event whose content.creator (ignored by v11) names Bob.
    const v10 = new TestRoom('10').put({ ...createEvent('10'), content: { room_version: '10', creator: BOB } });
    expectAllowed(v10, v10.member(BOB, 'join'));
    expectForbidden(v10, v10.member(ALICE, 'join'));
    const v11 = new TestRoom('11').put({ ...createEvent('11'), content: { room_version: '11', creator: BOB } });
    expectAllowed(v11, v11.member(ALICE, 'join'));
    expectForbidden(v11, v11.member(BOB, 'join'));
  });

  it('v11 gives the create sender level 100 without power levels even if content.creator names someone else', () => {
    const room = new TestRoom('11').put({ ...createEvent('11'), content: { room_version: '11', creator: BOB } });
    room.setMember(ALICE, 'join');
    expectAllowed(room, room.event('m.room.name', ALICE, { name: 'n' }, ''));
  });
});

describe('authEventKeysFor', () => {
  const room = makeRoom('11');

  it('selects nothing for m.room.create', () => {
    expect(authEventKeysFor(createEvent('11'))).toEqual([]);
  });

  it('selects create, power levels and the sender for ordinary events', () => {
    expect(authEventKeysFor(room.event('m.room.message', BOB, {}))).toEqual([
      ['m.room.create', ''],
      ['m.room.power_levels', ''],
      ['m.room.member', BOB],
    ]);
  });

  it('adds the target and join rules for invites, without duplicating a self-targeted member', () => {
    expect(authEventKeysFor(room.member(CAROL, 'invite', BOB))).toEqual([
      ['m.room.create', ''],
      ['m.room.power_levels', ''],
      ['m.room.member', BOB],
      ['m.room.member', CAROL],
      ['m.room.join_rules', ''],
    ]);
    expect(authEventKeysFor(room.member(BOB, 'leave'))).toEqual([
      ['m.room.create', ''],
      ['m.room.power_levels', ''],
      ['m.room.member', BOB],
    ]);
  });

  it("adds the authorising user's membership for restricted joins", () => {
    expect(authEventKeysFor(room.member(BOB, 'join', BOB, { join_authorised_via_users_server: CAROL }))).toContainEqual([
      'm.room.member',
      CAROL,
    ]);
  });

  it('adds the claimed m.room.third_party_invite for third-party invites', () => {
    const ev = room.member(CAROL, 'invite', BOB, { third_party_invite: { signed: { mxid: CAROL, token: 'abc', signatures: {} } } });
    expect(authEventKeysFor(ev)).toContainEqual(['m.room.third_party_invite', 'abc']);
  });
});

describe('canRedact (applying a redaction)', () => {
  const room = makeRoom('11', { members: { [BOB]: 'join', [CAROL]: 'join', [REMOTE]: 'join' } });
  room.setPowerLevels(defaultPowerLevels({ [ALICE]: 100, [BOB]: 50 }));
  const target = room.event('m.room.message', CAROL, { body: 'spam' });
  const redaction = (sender: string) => room.event('m.room.redaction', sender, { redacts: '$target' });

  it('applies a redaction by a user with the redact level', () => {
    expect(canRedact(redaction(BOB), target, room, '11')).toBe(true);
  });

  it("applies a redaction from the target sender's server without the redact level", () => {
    expect(canRedact(redaction(DAVE), target, room, '11')).toBe(true);
  });

  it('does not apply a redaction from another server without the redact level', () => {
    expect(canRedact(redaction(REMOTE), target, room, '11')).toBe(false);
  });

  it('does not apply a redaction across rooms or from a non-redaction event', () => {
    expect(canRedact({ ...redaction(BOB), room_id: '!other:example.org' }, target, room, '11')).toBe(false);
    expect(canRedact(room.event('m.room.message', BOB, {}), target, room, '11')).toBe(false);
  });

  it('uses the v10 creator rule when there is no power levels event', () => {
    const noPl = makeRoom('10', { powerLevels: null });
    const remoteTarget = { ...target, sender: REMOTE, room_id: ROOM_ID };
    expect(canRedact(redaction(ALICE), remoteTarget, noPl, '10')).toBe(true);
    expect(canRedact(redaction(BOB), remoteTarget, noPl, '10')).toBe(false);
  });
});
