import { describe, expect, it } from 'vitest';
import {
  eventLevelRequired,
  membershipActionLevel,
  notificationLevel,
  roomCreatorOf,
  userLevel,
} from '../../../homeserver/matrix/power-levels.js';

const create10 = { sender: '@a:example.org', content: { creator: '@a:example.org', room_version: '10' } };
const create11 = { sender: '@a:example.org', content: { room_version: '11' } };

describe('userLevel', () => {
  it('without power levels: the creator has 100, everyone else 0', () => {
    expect(userLevel(undefined, '@a:example.org', create10)).toBe(100);
    expect(userLevel(undefined, '@a:example.org', create11, '11')).toBe(100);
    expect(userLevel(undefined, '@b:example.org', create11, '11')).toBe(0);
    expect(userLevel(undefined, '@a:example.org')).toBe(0);
  });

  it('reads users, then users_default, then 0', () => {
    const pl = { users: { '@a:example.org': 75 }, users_default: 10 };
    expect(userLevel(pl, '@a:example.org', create11)).toBe(75);
    expect(userLevel(pl, '@b:example.org', create11)).toBe(10);
    expect(userLevel({}, '@a:example.org', create11)).toBe(0);
  });

  it('ignores values that are not integers and keys inherited from Object.prototype', () => {
    expect(userLevel({ users: { '@a:example.org': '100' }, users_default: 5 }, '@a:example.org')).toBe(5);
    expect(userLevel({ users: {} }, 'constructor')).toBe(0);
  });
});

describe('roomCreatorOf', () => {
  it('is content.creator in v10 and the sender in v11', () => {
    const odd = { sender: '@a:example.org', content: { creator: '@b:example.org' } };
    expect(roomCreatorOf(odd, '10')).toBe('@b:example.org');
    expect(roomCreatorOf(odd, '11')).toBe('@a:example.org');
    expect(roomCreatorOf(create11)).toBe('@a:example.org');
  });
});

describe('eventLevelRequired', () => {
  it('uses events[type] first', () => {
    expect(eventLevelRequired({ events: { 'm.room.name': 20 }, state_default: 50 }, 'm.room.name', true)).toBe(20);
  });

  it('falls back to state_default (50) or events_default (0)', () => {
    expect(eventLevelRequired({}, 'm.room.topic', true)).toBe(50);
    expect(eventLevelRequired({}, 'm.room.message', false)).toBe(0);
    expect(eventLevelRequired({ state_default: 10, events_default: 5 }, 'x', true)).toBe(10);
    expect(eventLevelRequired({ state_default: 10, events_default: 5 }, 'x', false)).toBe(5);
  });

  it('uses the same defaults when the room has no power levels event', () => {
    expect(eventLevelRequired(undefined, 'm.room.topic', true)).toBe(50);
    expect(eventLevelRequired(undefined, 'm.room.message', false)).toBe(0);
  });
});

describe('membershipActionLevel and notificationLevel', () => {
  it('defaults invite to 0 and kick, ban and redact to 50', () => {
    expect(membershipActionLevel(undefined, 'invite')).toBe(0);
    for (const a of ['kick', 'ban', 'redact'] as const) expect(membershipActionLevel({}, a)).toBe(50);
  });

  it('reads explicit values', () => {
    const pl = { invite: 1, kick: 2, ban: 3, redact: 4 };
    expect([
      membershipActionLevel(pl, 'invite'),
      membershipActionLevel(pl, 'kick'),
      membershipActionLevel(pl, 'ban'),
      membershipActionLevel(pl, 'redact'),
    ]).toEqual([1, 2, 3, 4]);
  });

  it('reads notifications.room with a default of 50', () => {
    expect(notificationLevel(undefined)).toBe(50);
    expect(notificationLevel({ notifications: { room: 20 } })).toBe(20);
    expect(notificationLevel({ notifications: { room: 20 } }, 'other')).toBe(50);
  });
});
