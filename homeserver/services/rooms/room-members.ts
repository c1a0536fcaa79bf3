import type { RoomState } from './room-state.js';

/** How many first members by user id are kept: sync's five heroes, plus one for the syncing user left out. */
const FIRST_MEMBERS = 6;

/** A room's members as its current state says, counted once per state change. */
export interface RoomMembers {
  joined: number;
  invited: number;
  /** The first FIRST_MEMBERS joined or invited user ids, sorted (sync's `m.heroes` come from these). */
  firstMembers: string[];
}

const byRoom = new WeakMap<RoomState, { generation: number; members: RoomMembers }>();

/**
 * Member counts of a room, for everything that reports or evaluates them (sync summaries, push
 * rules' room_member_count, room summaries and the hierarchy). Walking the state costs O(members),
 * so it is done once per state change: a RoomState is updated in place when a chain with state
 * events commits, which moves its stateGeneration.
 */
export function roomMembers(room: RoomState): RoomMembers {
  const hit = byRoom.get(room);
  if (hit && hit.generation === room.stateGeneration) return hit.members;
  const members = count(room);
  byRoom.set(room, { generation: room.stateGeneration, members });
  return members;
}

function count(room: RoomState): RoomMembers {
  let joined = 0;
  let invited = 0;
  const ids: string[] = [];
  for (const { pdu } of room.state.values()) {
    if (pdu.type !== 'm.room.member') continue;
    const m = pdu.content.membership;
    if (m === 'join') joined++;
    if (m === 'invite') invited++;
    if (m === 'join' || m === 'invite') ids.push(pdu.state_key!);
  }
  return { joined, invited, firstMembers: ids.sort().slice(0, FIRST_MEMBERS) };
}
