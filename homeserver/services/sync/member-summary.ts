import type { RoomState } from '../rooms/room-state.js';

/** Heroes are the first five members by user id, the syncing user excluded (as Synapse picks them). */
const HEROES = 5;

interface Facts {
  generation: number;
  joined: number;
  invited: number;
  /** The first HEROES + 1 joined or invited members by user id: enough to leave one user out. */
  firstMembers: string[];
}

const byRoom = new WeakMap<RoomState, Facts>();

/**
 * A room's sync `summary` (`m.heroes`, joined and invited member counts). Every response with the
 * room in it carries one, so the member scan (and the sort of a big room's members) is done once
 * per state change of the room, not once per response.
 */
export function memberSummary(room: RoomState, userId: string): Record<string, unknown> {
  let facts = byRoom.get(room);
  if (!facts || facts.generation !== room.stateGeneration) {
    facts = scan(room);
    byRoom.set(room, facts);
  }
  const heroes = facts.firstMembers.filter((m) => m !== userId).slice(0, HEROES);
  return { 'm.heroes': heroes, 'm.joined_member_count': facts.joined, 'm.invited_member_count': facts.invited };
}

function scan(room: RoomState): Facts {
  let joined = 0;
  let invited = 0;
  const members: string[] = [];
  for (const { pdu } of room.state.values()) {
    if (pdu.type !== 'm.room.member') continue;
    const m = pdu.content.membership;
    if (m === 'join') joined++;
    if (m === 'invite') invited++;
    if (m === 'join' || m === 'invite') members.push(pdu.state_key!);
  }
  return { generation: room.stateGeneration, joined, invited, firstMembers: members.sort().slice(0, HEROES + 1) };
}
