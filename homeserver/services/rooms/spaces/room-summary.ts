import { publicRoomChunk } from '../public-room-chunk.js';
import { roomMembers } from '../room-members.js';
import type { RoomState } from '../room-state.js';

/**
 * A room's summary (spec: RoomSummary, the PublicRoomsChunk fields plus room_version, encryption,
 * allowed_room_ids), read from its current state in memory. Optional fields are left out rather
 * than null, as the spec's schema types them.
 */
export function roomSummary(room: RoomState): Record<string, unknown> {
  const summary: Record<string, unknown> = { ...publicRoomChunk(room, roomMembers(room).joined), room_version: room.version };
  // The spec's enum has one algorithm; another one is not something a client could act on.
  if (room.get('m.room.encryption', '')?.content.algorithm === 'm.megolm.v1.aes-sha2') summary.encryption = 'm.megolm.v1.aes-sha2';
  const allowed = allowedRoomIds(room);
  if (allowed.length) summary.allowed_room_ids = allowed;
  return summary;
}

/** The rooms whose members may join a restricted (or knock_restricted) room. */
export function allowedRoomIds(room: RoomState): string[] {
  const rules = room.get('m.room.join_rules', '')?.content;
  if (rules?.join_rule !== 'restricted' && rules?.join_rule !== 'knock_restricted') return [];
  const allow = Array.isArray(rules.allow) ? (rules.allow as unknown[]) : [];
  return allow.flatMap((a) => {
    const entry = a as { type?: unknown; room_id?: unknown } | null;
    return entry?.type === 'm.room_membership' && typeof entry.room_id === 'string' ? [entry.room_id] : [];
  });
}
