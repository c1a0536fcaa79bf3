import type { RoomState } from '../room-state.js';
import { allowedRoomIds } from './room-summary.js';

/**
 * Whether a user may see a room's summary without being in it (spec: GET /hierarchy `rooms`, the
 * rules Synapse applies to local rooms): joined or invited, a public or knockable room, a
 * world-readable one, or a restricted room the user could join through a room they are in.
 * Every supported room version (10, 11) has knock and knock_restricted.
 */
export async function canPreview(
  room: RoomState,
  userId: string,
  roomById: (roomId: string) => Promise<RoomState | undefined>,
): Promise<boolean> {
  const membership = room.membershipOf(userId);
  if (membership === 'join' || membership === 'invite') return true;
  const joinRule = room.get('m.room.join_rules', '')?.content.join_rule;
  if (joinRule === 'public' || joinRule === 'knock' || joinRule === 'knock_restricted') return true;
  if (room.get('m.room.history_visibility', '')?.content.history_visibility === 'world_readable') return true;
  for (const allowedId of allowedRoomIds(room)) {
    if ((await roomById(allowedId))?.membershipOf(userId) === 'join') return true;
  }
  return false;
}
