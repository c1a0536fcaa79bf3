import type { AppserviceRegistration } from '../../homeserver/services/appservices/registry-port.js';
import type { Queryable } from '../../homeserver/storage/db.js';

/** The fields of an hs_events row interest is decided on. */
export interface CandidateEvent {
  stream_ordering: number;
  event_id: string;
  room_id: string;
  sender: string;
  state_key: string | null;
}

/** Per-batch room facts: joined members and aliases of the rooms the candidate events are in. */
export interface RoomFacts {
  joined: Map<string, string[]>;
  aliases: Map<string, string[]>;
}

export async function loadRoomFacts(db: Queryable, roomIds: string[]): Promise<RoomFacts> {
  const joined = new Map<string, string[]>();
  const aliases = new Map<string, string[]>();
  if (!roomIds.length) return { joined, aliases };
  const [m, a] = await Promise.all([
    db.query<{ room_id: string; user_id: string }>(
      `SELECT room_id, user_id FROM hs_memberships WHERE room_id = ANY($1) AND membership = 'join'`,
      [roomIds],
    ),
    db.query<{ room_id: string; alias: string }>('SELECT room_id, alias FROM hs_room_aliases WHERE room_id = ANY($1)', [roomIds]),
  ]);
  for (const r of m.rows) push(joined, r.room_id, r.user_id);
  for (const r of a.rows) push(aliases, r.room_id, r.alias);
  return { joined, aliases };
}

function push(map: Map<string, string[]>, k: string, v: string) {
  const list = map.get(k);
  if (list) list.push(v);
  else map.set(k, [v]);
}

/** Whether the user is the appservice's sender or in one of its user namespaces (exclusive or not). */
export function appserviceOwnsUser(reg: AppserviceRegistration, serverName: string, userId: string): boolean {
  return userId === `@${reg.senderLocalpart}:${serverName}` || reg.namespaces.users.some((ns) => ns.regex.test(userId));
}

/**
 * The spec's interest rules: sender or state_key user in its namespaces, the room id in its room
 * namespaces, an alias of the room in its alias namespaces, or one of its users joined to the room.
 * Membership and aliases are the current ones (read once per batch), as Synapse does.
 */
export class InterestMatcher {
  private roomCache = new Map<string, boolean>();

  constructor(
    private reg: AppserviceRegistration,
    private serverName: string,
    private facts: RoomFacts,
  ) {}

  interested(e: CandidateEvent): boolean {
    const owns = (u: string) => appserviceOwnsUser(this.reg, this.serverName, u);
    if (owns(e.sender)) return true;
    if (e.state_key && e.state_key.startsWith('@') && owns(e.state_key)) return true;
    return this.interestedInRoom(e.room_id);
  }

  /** Room-level interest only (ephemeral events and presence are about rooms, not senders). */
  interestedInRoom(roomId: string): boolean {
    let room = this.roomCache.get(roomId);
    if (room === undefined) {
      room =
        this.reg.namespaces.rooms.some((ns) => ns.regex.test(roomId)) ||
        (this.facts.aliases.get(roomId) ?? []).some((a) => this.reg.namespaces.aliases.some((ns) => ns.regex.test(a))) ||
        (this.facts.joined.get(roomId) ?? []).some((u) => appserviceOwnsUser(this.reg, this.serverName, u));
      this.roomCache.set(roomId, room);
    }
    return room;
  }
}

/** The rooms each of the users is joined to (users joined nowhere are absent). */
export async function joinedRoomsOf(db: Queryable, userIds: string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (!userIds.length) return out;
  const { rows } = await db.query<{ room_id: string; user_id: string }>(
    `SELECT room_id, user_id FROM hs_memberships WHERE user_id = ANY($1) AND membership = 'join'`,
    [userIds],
  );
  for (const r of rows) push(out, r.user_id, r.room_id);
  return out;
}
