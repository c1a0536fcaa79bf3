import type { Queryable } from '../../../storage/db.js';
import { EVENT_COLUMNS, EVENT_JOINS, type EventRow } from '../client-event.js';
import type { VisibleRange } from './visible-ranges.js';

/** The events around one search hit that the user may see: `before` newest first, `after` oldest first. */
export interface ContextWindow {
  before: EventRow[];
  after: EventRow[];
}

/**
 * The events before and after every hit of a search page, in one statement per room. What /messages
 * would page to from the hit's position, backwards and forwards: the room's events the user may
 * see, that is those inside the room's visible ranges (visible-ranges.ts: the VisibilityFilter that
 * /messages applies, up to a departed user's cutoff, as positions), nearest first.
 */
export async function contextWindows(
  db: Queryable,
  hits: { room_id: string; stream_ordering: number }[],
  visible: { roomId: string; range: VisibleRange }[],
  limits: { before: number; after: number },
): Promise<ContextWindow[]> {
  const windows = hits.map((): ContextWindow => ({ before: [], after: [] }));
  if (limits.before === 0 && limits.after === 0) return windows;
  const byRoom = new Map<string, number[]>();
  hits.forEach((h, i) => byRoom.set(h.room_id, [...(byRoom.get(h.room_id) ?? []), i]));
  for (const [roomId, indexes] of byRoom) {
    const ranges = visible.filter((v) => v.roomId === roomId).map((v) => v.range);
    const rows = await roomWindows(db, roomId, indexes, hits, ranges, limits);
    for (const { i, dir, ...row } of rows) windows[i]![dir].push({ ...row, stream_ordering: Number(row.stream_ordering) });
  }
  // UNION ALL keeps no order: put each side back in the order /messages returns it.
  for (const w of windows) {
    w.before.sort((a, b) => b.stream_ordering - a.stream_ordering);
    w.after.sort((a, b) => a.stream_ordering - b.stream_ordering);
  }
  return windows;
}

/**
 * One room's windows: a LATERAL per hit and direction, each an index walk from the hit that stops
 * after `limit` visible events, as /messages' own pagination. The room is a parameter, not a column
 * of the hits, so Postgres plans with that room's statistics, as for /messages: with a lateral room
 * id it may walk hs_events by stream position alone, through every other room's events.
 */
async function roomWindows(
  db: Queryable,
  roomId: string,
  indexes: number[],
  hits: { stream_ordering: number }[],
  ranges: VisibleRange[],
  limits: { before: number; after: number },
) {
  const side = (dir: 'before' | 'after', cmp: string, order: string, limit: string) => `
    SELECT q.i, '${dir}' AS dir, w.* FROM q CROSS JOIN LATERAL (
      SELECT ${EVENT_COLUMNS} FROM hs_events e ${EVENT_JOINS}
      WHERE e.room_id = $1 AND e.stream_ordering ${cmp} q.pos
        AND EXISTS (SELECT 1 FROM vis WHERE e.stream_ordering BETWEEN vis.lo AND vis.hi)
      ORDER BY e.stream_ordering ${order} LIMIT ${limit}) w`;
  const { rows } = await db.query<EventRow & { i: number; dir: 'before' | 'after' }>(
    `WITH q AS (SELECT * FROM unnest($2::int[], $3::bigint[]) AS q(i, pos)),
          vis AS (SELECT * FROM unnest($4::bigint[], $5::bigint[]) AS vis(lo, hi))
     ${side('before', '<', 'DESC', '$6')}
     UNION ALL
     ${side('after', '>', 'ASC', '$7')}`,
    [
      roomId,
      indexes,
      indexes.map((i) => hits[i]!.stream_ordering),
      ranges.map((r) => r.lo),
      ranges.map((r) => r.hi),
      limits.before,
      limits.after,
    ],
  );
  return rows;
}
