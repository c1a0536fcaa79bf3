import { MatrixError } from '../../matrix/errors.js';
import type { Requester } from '../requester.js';
import { bundleAggregations } from './bundled-aggregations.js';
import { EVENT_COLUMNS, EVENT_JOINS, toClientEvent, type EventRow } from './client-event.js';
import type { Direction } from './event-store.js';
import type { RoomReads } from './room-reads.js';
import type { RoomsContext } from './rooms-context.js';
import { BEFORE_ALL_EVENTS, parseStreamToken, streamToken } from './stream-token.js';

export interface RelationsQuery {
  relType?: string;
  eventType?: string;
  from?: string;
  to?: string;
  limit?: number;
  dir?: Direction;
  recurse?: boolean;
}

const MAX_LIMIT = 1000;
/** How many levels `recurse=true` follows (MSC3981: at least 3). */
export const RECURSION_DEPTH = 3;

/**
 * `GET /relations` and `GET /threads` (spec: "Event relationships", "Threads"), read from
 * hs_event_relations. Tokens are stream positions naming a gap, as for /messages: backwards reads
 * positions <= p, forwards > p, so a /messages or /sync token works as `from` too.
 */
export class RelationReads {
  constructor(
    private ctx: RoomsContext,
    private reads: RoomReads,
  ) {}

  /** Children of a visible parent, newest first by default, each with its own bundled aggregations. */
  async relations(requester: Requester, roomId: string, parentId: string, q: RelationsQuery) {
    const { filter } = await this.parent(requester, roomId, parentId);
    const dir = q.dir ?? 'b';
    const limit = Math.min(q.limit ?? 5, MAX_LIMIT);
    const from = q.from !== undefined ? parseStreamToken(q.from) : dir === 'b' ? Number.MAX_SAFE_INTEGER : BEFORE_ALL_EVENTS;
    const to = q.to !== undefined ? parseStreamToken(q.to) : undefined;
    const params: unknown[] = [roomId, parentId, from, limit + 1];
    const conds = [dir === 'b' ? 'x.stream_ordering <= $3' : 'x.stream_ordering > $3'];
    if (to !== undefined) conds.push(`x.stream_ordering ${dir === 'b' ? '>' : '<='} $${params.push(to)}`);
    if (q.relType !== undefined) conds.push(`x.rel_type = $${params.push(q.relType)}`);
    if (q.eventType !== undefined) conds.push(`x.type = $${params.push(q.eventType)}`);
    // recurse: children of children too, a bounded number of levels (a relation cycle cannot loop).
    const source = q.recurse
      ? `(WITH RECURSIVE tree(event_id, depth) AS (
           SELECT event_id, 1 FROM hs_event_relations WHERE room_id = $1 AND parent_id = $2
           UNION ALL SELECT c.event_id, t.depth + 1 FROM tree t
             JOIN hs_event_relations c ON c.room_id = $1 AND c.parent_id = t.event_id WHERE t.depth < ${RECURSION_DEPTH})
         SELECT DISTINCT x.* FROM tree JOIN hs_event_relations x ON x.event_id = tree.event_id AND x.room_id = $1)`
      : `(SELECT * FROM hs_event_relations WHERE room_id = $1 AND parent_id = $2)`;
    const { rows } = await this.ctx.db.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM ${source} x JOIN hs_events e ON e.event_id = x.event_id ${EVENT_JOINS}
       WHERE ${conds.join(' AND ')}
       ORDER BY x.stream_ordering ${dir === 'b' ? 'DESC' : 'ASC'} LIMIT $4`,
      params,
    );
    const page = rows.slice(0, limit);
    const chunk = page.filter((r) => this.reads.visible(filter, r)).map((r) => toClientEvent(r, requester));
    // A thread opened from /relations shows its replies' edits: bundle them like a timeline.
    await bundleAggregations(this.ctx.db, chunk, requester, filter.cutoff);
    const out: Record<string, unknown> = { chunk };
    const last = page[page.length - 1];
    if (rows.length > limit && last) out.next_batch = streamToken(dir === 'b' ? last.stream_ordering - 1 : last.stream_ordering);
    if (q.from !== undefined) out.prev_batch = q.from;
    if (q.recurse !== undefined) out.recursion_depth = q.recurse ? RECURSION_DEPTH : 0;
    return out;
  }

  /**
   * `GET /threads`: visible thread roots of the room, the most recently active thread first.
   * `participated`: threads the user started or replied in. A page token is the latest-activity
   * position to continue below.
   */
  async threads(requester: Requester, roomId: string, q: { include?: 'all' | 'participated'; limit?: number; from?: string }) {
    // The spec answers 403 for a room that does not exist here as for one the user cannot see.
    const filter = await this.reads.visibility(requester, roomId).catch((err: unknown) => {
      if (err instanceof MatrixError && err.errcode === 'M_NOT_FOUND') throw MatrixError.forbidden('You are not allowed to view this room');
      throw err;
    });
    const limit = Math.min(q.limit ?? 5, 100);
    const from = q.from !== undefined ? parseStreamToken(q.from) : Number.MAX_SAFE_INTEGER;
    const { rows } = await this.ctx.db.query<EventRow & { latest: number }>(
      `SELECT t.latest, ${EVENT_COLUMNS} FROM (
         SELECT parent_id, max(stream_ordering) AS latest, bool_or(sender = $3) AS mine FROM hs_event_relations
         WHERE room_id = $1 AND rel_type = 'm.thread' AND stream_ordering <= $2 GROUP BY parent_id) t
       JOIN hs_events e ON e.event_id = t.parent_id AND e.room_id = $1 ${EVENT_JOINS}
       WHERE t.latest <= $4 AND (NOT $5 OR t.mine OR e.sender = $3)
       ORDER BY t.latest DESC LIMIT $6`,
      [roomId, filter.cutoff, requester.userId, from, q.include === 'participated', limit + 1],
    );
    const page = rows.slice(0, limit);
    const chunk = page.filter((r) => this.reads.visible(filter, r)).map((r) => toClientEvent(r, requester));
    await bundleAggregations(this.ctx.db, chunk, requester, filter.cutoff);
    const out: Record<string, unknown> = { chunk };
    const last = page[page.length - 1];
    if (rows.length > limit && last) out.next_batch = streamToken(last.latest - 1);
    return out;
  }

  /** The parent must be an event the requester can see; otherwise 404, whatever the reason (spec). */
  private async parent(requester: Requester, roomId: string, parentId: string) {
    try {
      return await this.reads.visibleEvent(requester, roomId, parentId);
    } catch (err) {
      if (err instanceof MatrixError && err.errcode === 'M_FORBIDDEN') throw MatrixError.notFound('Event not found');
      throw err;
    }
  }
}
