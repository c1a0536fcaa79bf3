import type { RoomState } from './room-state.js';

/** spec: PublicRoomsChunk. Optional fields are left out rather than null, as the spec's schema types them. */
export interface PublicRoomChunk {
  room_id: string;
  num_joined_members: number;
  world_readable: boolean;
  guest_can_join: boolean;
  join_rule: string;
  name?: string;
  topic?: string;
  canonical_alias?: string;
  avatar_url?: string;
  room_type?: string;
}

/** Optional string fields: the chunk field, and the state event (state key '') and content key it is read from. */
const OPTIONAL_FIELDS = [
  ['name', 'm.room.name', 'name'],
  ['topic', 'm.room.topic', 'topic'],
  ['canonical_alias', 'm.room.canonical_alias', 'alias'],
  ['avatar_url', 'm.room.avatar', 'url'],
  ['room_type', 'm.room.create', 'type'],
] as const;

/**
 * A room as the public room directory lists it, read from its current state in memory. The same
 * fields open a room's summary (/room_summary, /hierarchy; see spaces/room-summary.ts), which adds
 * its own. The joined count is the caller's: the directory counts memberships in SQL for all
 * public rooms at once, a summary counts the state it already holds.
 */
export function publicRoomChunk(room: RoomState, joinedMembers: number): PublicRoomChunk {
  const content = (type: string) => room.get(type, '')?.content ?? {};
  const joinRule = content('m.room.join_rules').join_rule;
  const chunk: PublicRoomChunk = {
    room_id: room.roomId,
    num_joined_members: joinedMembers,
    world_readable: content('m.room.history_visibility').history_visibility === 'world_readable',
    guest_can_join: content('m.room.guest_access').guest_access === 'can_join',
    // A room without join rules is invite-only, as auth-rules.ts treats it; the schema wants a string.
    join_rule: typeof joinRule === 'string' ? joinRule : 'invite',
  };
  for (const [field, type, key] of OPTIONAL_FIELDS) {
    const v = content(type)[key];
    if (typeof v === 'string' && v) chunk[field] = v;
  }
  return chunk;
}
