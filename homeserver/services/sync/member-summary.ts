import { roomMembers } from '../rooms/room-members.js';
import type { RoomState } from '../rooms/room-state.js';

/** Heroes are the first five members by user id, the syncing user excluded (as Synapse picks them). */
const HEROES = 5;

/**
 * A room's sync `summary` (`m.heroes`, joined and invited member counts). Every response with the
 * room in it carries one; the member scan behind it is done once per state change (roomMembers).
 */
export function memberSummary(room: RoomState, userId: string): Record<string, unknown> {
  const members = roomMembers(room);
  const heroes = members.firstMembers.filter((m) => m !== userId).slice(0, HEROES);
  return { 'm.heroes': heroes, 'm.joined_member_count': members.joined, 'm.invited_member_count': members.invited };
}
