import { describe, expect, it } from 'vitest';
import { RoomState, stateMapKey, type StoredEvent } from '../../../homeserver/services/rooms/room-state.js';
import { memberSummary } from '../../../homeserver/services/sync/member-summary.js';
import type { Pdu } from '../../../homeserver/matrix/pdu.js';

const member = (userId: string, membership: string): StoredEvent => ({
  eventId: `$${userId}-${membership}`,
  pdu: { type: 'm.room.member', state_key: userId, sender: userId, content: { membership } } as unknown as Pdu,
});

function roomWith(members: [string, string][]): RoomState {
  const state = new Map<string, StoredEvent>();
  for (const [u, m] of members) state.set(stateMapKey('m.room.member', u), member(u, m));
  return new RoomState('!r:t', '11', state, '$head', 3);
}

describe('memberSummary', () => {
  it('counts joined and invited members and names the first five others by user id as heroes', () => {
    const room = roomWith([
      ['@g:t', 'join'],
      ['@a:t', 'join'],
      ['@f:t', 'invite'],
      ['@c:t', 'join'],
      ['@b:t', 'leave'],
      ['@e:t', 'join'],
      ['@d:t', 'ban'],
      ['@h:t', 'join'],
    ]);
    expect(memberSummary(room, '@c:t')).toEqual({
      'm.heroes': ['@a:t', '@e:t', '@f:t', '@g:t', '@h:t'],
      'm.joined_member_count': 5,
      'm.invited_member_count': 1,
    });
    expect(memberSummary(room, '@z:t')['m.heroes']).toEqual(['@a:t', '@c:t', '@e:t', '@f:t', '@g:t']);
  });

  it('sees a membership change committed into the same RoomState object', () => {
    const room = roomWith([
      ['@b:t', 'join'],
      ['@c:t', 'join'],
    ]);
    expect(memberSummary(room, '@b:t')['m.joined_member_count']).toBe(2);
    const overlay = room.overlay();
    overlay.append(member('@a:t', 'join'), 4);
    overlay.append(member('@c:t', 'leave'), 5);
    overlay.commit();
    expect(memberSummary(room, '@b:t')).toEqual({ 'm.heroes': ['@a:t'], 'm.joined_member_count': 2, 'm.invited_member_count': 0 });
  });
});
