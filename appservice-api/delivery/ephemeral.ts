import type { AppserviceRegistration } from '../../homeserver/services/appservices/registry-port.js';
import { InterestMatcher, joinedRoomsOf, loadRoomFacts } from './interest.js';
import type { SideContext, SidePositions } from './side-streams.js';

type EphemeralStreams = Pick<SidePositions, 'receipts' | 'typing' | 'presence'>;

/**
 * MSC2409 ephemeral events after the stored positions, in rooms the appservice is interested in:
 * public receipts (m.receipt per room), typing (m.typing with the room's current typers, so a
 * notice that expired reaches it as a set without that user) and presence of users sharing such
 * a room. Grouping and formatting are the client streams' own (Receipts, Typing, Presence).
 */
export async function readEphemeral(
  ctx: SideContext,
  reg: AppserviceRegistration,
  from: EphemeralStreams,
): Promise<{ items: unknown[]; to: EphemeralStreams }> {
  const { db, limit, sources } = ctx;
  const [receipts, typing, presence] = await Promise.all([
    db.query<{ room_id: string; stream_id: number }>(
      'SELECT room_id, stream_id FROM hs_receipts WHERE stream_id > $1 ORDER BY stream_id LIMIT $2',
      [from.receipts, limit],
    ),
    db.query<{ room_id: string; stream_id: number }>(
      'SELECT room_id, stream_id FROM hs_typing WHERE stream_id > $1 ORDER BY stream_id LIMIT $2',
      [from.typing, limit],
    ),
    db.query<{ user_id: string; stream_id: number }>(
      'SELECT user_id, stream_id FROM hs_presence WHERE stream_id > $1 ORDER BY stream_id LIMIT $2',
      [from.presence, limit],
    ),
  ]);
  const to: EphemeralStreams = {
    receipts: Number(receipts.rows.at(-1)?.stream_id ?? from.receipts),
    typing: Number(typing.rows.at(-1)?.stream_id ?? from.typing),
    presence: Number(presence.rows.at(-1)?.stream_id ?? from.presence),
  };
  const presenceRooms = await joinedRoomsOf(db, [...new Set(presence.rows.map((r) => r.user_id))]);
  const rooms = [
    ...new Set([...receipts.rows.map((r) => r.room_id), ...typing.rows.map((r) => r.room_id), ...[...presenceRooms.values()].flat()]),
  ];
  const items: unknown[] = [];
  if (!rooms.length) return { items, to };
  const matcher = new InterestMatcher(reg, ctx.serverName, await loadRoomFacts(db, rooms));
  const interesting = (roomIds: string[]) => [...new Set(roomIds)].filter((r) => matcher.interestedInRoom(r));

  const receiptRooms = interesting(receipts.rows.map((r) => r.room_id));
  if (sources.receipts && receiptRooms.length) {
    // viewer '' sees public receipts only (private ones are their owner's alone).
    const byRoom = await sources.receipts.changedRooms('', receiptRooms, from.receipts, to.receipts);
    for (const [roomId, content] of byRoom) items.push({ type: 'm.receipt', room_id: roomId, content });
  }
  const typingRooms = interesting(typing.rows.map((r) => r.room_id));
  if (sources.typing && typingRooms.length) {
    const byRoom = await sources.typing.changedRooms(typingRooms, from.typing, to.typing);
    for (const [roomId, userIds] of byRoom) items.push({ type: 'm.typing', room_id: roomId, content: { user_ids: userIds.sort() } });
  }
  const sharedRooms = interesting([...presenceRooms.values()].flat());
  if (sources.presence && sharedRooms.length) {
    // The presence stream's own section for "someone joined to these rooms", seen by the appservice's sender.
    const section = await sources.presence.sectionFor(`@${reg.senderLocalpart}:${ctx.serverName}`, undefined, from.presence, to.presence, {
      joined: sharedRooms,
    });
    if (section) items.push(...section.events);
  }
  return { items, to };
}
