import type { RoomState } from '../room-state.js';

/**
 * A room's summary (spec: RoomSummary, the PublicRoomsChunk fields plus room_type, room_version,
 * encryption, allowed_room_ids), read from its current state in memory. Optional fields are left
 * out rather than null, as the spec's schema types them.
 */
export function roomSummary(room: RoomState): Record<string, unknown> {
  const content = (type: string) => room.get(type, '')?.content ?? {};
  let joined = 0;
  for (const { pdu } of room.state.values()) if (pdu.type === 'm.room.member' && pdu.content.membership === 'join') joined++;
  const joinRules = content('m.room.join_rules');
  const summary: Record<string, unknown> = {
    room_id: room.roomId,
    num_joined_members: joined,
    world_readable: content('m.room.history_visibility').history_visibility === 'world_readable',
    guest_can_join: content('m.room.guest_access').guest_access === 'can_join',
    join_rule: typeof joinRules.join_rule === 'string' ? joinRules.join_rule : 'invite',
    room_version: room.version,
  };
  for (const [field, type, key] of [
    ['name', 'm.room.name', 'name'],
    ['topic', 'm.room.topic', 'topic'],
    ['canonical_alias', 'm.room.canonical_alias', 'alias'],
    ['avatar_url', 'm.room.avatar', 'url'],
    ['room_type', 'm.room.create', 'type'],
  ] as const) {
    const v = content(type)[key];
    if (typeof v === 'string' && v) summary[field] = v;
  }
  // The spec's enum has one algorithm; another one is not something a client could act on.
  if (content('m.room.encryption').algorithm === 'm.megolm.v1.aes-sha2') summary.encryption = 'm.megolm.v1.aes-sha2';
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
