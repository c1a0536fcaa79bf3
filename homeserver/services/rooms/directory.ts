import { MatrixError } from '../../matrix/errors.js';
import { parseRoomId } from '../../matrix/ids.js';
import { userLevel, eventLevelRequired } from '../../matrix/power-levels.js';
import type { Requester } from '../requester.js';
import { publicRoomChunk, type PublicRoomChunk } from './public-room-chunk.js';
import type { RoomsContext } from './rooms-context.js';

export interface PublicRoomsQuery {
  limit?: number;
  since?: string;
  filter?: { generic_search_term?: string; room_types?: (string | null)[] };
}

/** The public room directory (spec: /publicRooms and /directory/list/room/{roomId}). */
export class Directory {
  constructor(private ctx: RoomsContext) {}

  async visibility(roomIdText: string): Promise<'public' | 'private'> {
    const { rows } = await this.ctx.db.query<{ is_public: boolean }>('SELECT is_public FROM hs_rooms WHERE room_id = $1', [
      parseRoomId(roomIdText),
    ]);
    if (!rows[0]) throw MatrixError.notFound('Unknown room');
    return rows[0].is_public ? 'public' : 'private';
  }

  async setVisibility(requester: Requester, roomIdText: string, visibility: 'public' | 'private') {
    const roomId = parseRoomId(roomIdText);
    const room = await this.ctx.cache.get(roomId);
    if (!room) throw MatrixError.notFound('Unknown room');
    const pl = room.get('m.room.power_levels', '')?.content;
    const create = room.get('m.room.create', '')!;
    // Publishing a room is a moderator's decision, as in Synapse (canonical alias level).
    if (
      !requester.isAdmin &&
      (room.membershipOf(requester.userId) !== 'join' ||
        userLevel(pl, requester.userId, create) < eventLevelRequired(pl, 'm.room.canonical_alias', true))
    )
      throw MatrixError.forbidden('You may not change the directory visibility of this room');
    await this.ctx.db.query('UPDATE hs_rooms SET is_public = $2 WHERE room_id = $1', [roomId, visibility === 'public']);
  }

  async publicRooms(q: PublicRoomsQuery) {
    const limit = Math.min(Math.max(q.limit ?? 100, 1), 500);
    const offset = q.since ? parseSince(q.since) : 0;
    const { rows } = await this.ctx.db.query<{ room_id: string; joined: number }>(
      `SELECT r.room_id, (SELECT count(*) FROM hs_memberships m WHERE m.room_id = r.room_id AND m.membership = 'join')::int AS joined
       FROM hs_rooms r WHERE r.is_public ORDER BY joined DESC, r.room_id`,
    );
    const term = q.filter?.generic_search_term?.toLowerCase();
    const chunk: PublicRoomChunk[] = [];
    for (const row of rows) {
      const room = await this.ctx.cache.get(row.room_id);
      if (!room) continue;
      const roomType = room.get('m.room.create', '')?.content.type;
      if (q.filter?.room_types && !q.filter.room_types.includes((roomType as string | undefined) ?? null)) continue;
      const entry = publicRoomChunk(room, row.joined);
      if (term && ![entry.name, entry.topic, entry.canonical_alias].some((v) => typeof v === 'string' && v.toLowerCase().includes(term)))
        continue;
      chunk.push(entry);
    }
    const page = chunk.slice(offset, offset + limit);
    return {
      chunk: page,
      total_room_count_estimate: chunk.length,
      ...(offset + limit < chunk.length ? { next_batch: `o${offset + limit}` } : {}),
      ...(offset > 0 ? { prev_batch: `o${Math.max(0, offset - limit)}` } : {}),
    };
  }
}

function parseSince(since: string): number {
  const m = /^o(\d{1,9})$/.exec(since);
  if (!m) throw MatrixError.invalidParam('Invalid since token');
  return Number(m[1]);
}
