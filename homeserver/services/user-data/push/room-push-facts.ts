import type { Pdu } from '../../../matrix/pdu.js';
import { userLevel } from '../../../matrix/power-levels.js';
import { roomMembers } from '../../rooms/room-members.js';
import type { RoomState } from '../../rooms/room-state.js';

/**
 * What push rule evaluation needs from a room's current state, worked out once per state change
 * rather than once per woken sync (the member count itself comes from roomMembers).
 */
export class RoomPushFacts {
  /** RoomState.stateGeneration these facts were read at. */
  readonly generation: number;
  readonly joinedMembers: number;
  /** `content.notifications` of m.room.power_levels (whatever it holds: the evaluator checks its shape). */
  readonly notificationLevels: Record<string, unknown> | undefined;
  private readonly powerLevels: Record<string, unknown> | undefined;
  private readonly create: Pdu | undefined;
  private readonly senderLevels = new Map<string, number>();
  private readonly displayNames = new Map<string, string | null>();

  constructor(private readonly room: RoomState) {
    this.generation = room.stateGeneration;
    this.joinedMembers = roomMembers(room).joined;
    this.powerLevels = room.get('m.room.power_levels', '')?.content;
    this.create = room.get('m.room.create', '');
    this.notificationLevels = this.powerLevels?.notifications as Record<string, unknown> | undefined;
  }

  senderPowerLevel(sender: string): number {
    let level = this.senderLevels.get(sender);
    if (level === undefined) {
      level = userLevel(this.powerLevels, sender, this.create, this.room.version);
      this.senderLevels.set(sender, level);
    }
    return level;
  }

  displayName(userId: string): string | null {
    let name = this.displayNames.get(userId);
    if (name === undefined) {
      name = (this.room.get('m.room.member', userId)?.content.displayname as string | undefined) ?? null;
      this.displayNames.set(userId, name);
    }
    return name;
  }
}

// A RoomState is updated in place when a chain with state events commits (RoomStateOverlay.commit),
// which moves its stateGeneration: facts are reused only while the generation is unchanged, and go
// away with the object.
const factsByRoom = new WeakMap<RoomState, RoomPushFacts>();

export function roomPushFacts(room: RoomState): RoomPushFacts {
  let facts = factsByRoom.get(room);
  if (!facts || facts.generation !== room.stateGeneration) {
    facts = new RoomPushFacts(room);
    factsByRoom.set(room, facts);
  }
  return facts;
}
