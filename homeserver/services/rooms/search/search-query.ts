import type { Queryable } from '../../../storage/db.js';
import { EVENT_COLUMNS, EVENT_JOINS, type EventRow } from '../client-event.js';
import type { SearchCursor, SearchOrder } from './search-token.js';
import type { VisibleRange } from './visible-ranges.js';

/** The searchable keys and the event type each is indexed for (migration 0016). */
export const SEARCH_KEYS = {
  'content.body': { type: 'm.room.message', field: 'body' },
  'content.name': { type: 'm.room.name', field: 'name' },
  'content.topic': { type: 'm.room.topic', field: 'topic' },
} as const;
export type SearchKey = keyof typeof SEARCH_KEYS;

export interface SearchSql {
  keys: SearchKey[];
  /** A to_tsquery('simple', ...) text (see search-terms.ts). */
  tsquery: string;
  ranges: { roomId: string; range: VisibleRange }[];
  senders?: string[];
  notSenders?: string[];
  containsUrl?: boolean;
}

export type SearchHit = EventRow & { rank: number; room_id: string; sender: string; type: string };

/**
 * The matching visible events as CTEs ending in `hits(stream_ordering, room_id, sender, type,
 * rank)`. `matched` has one branch per key, each written as its partial expression index expects
 * (the same type predicate and hs_search_vector call), over the user's rooms; it is MATERIALIZED so
 * it is planned on predicates Postgres can estimate (room ids against its statistics). Joined to the
 * visible ranges directly, the planner cannot estimate the ranges (they come from unnest) and may
 * walk a whole room by stream position, computing every event's vector, instead of asking the
 * index. Redacted events are never hits: their text is still in the stored JSON, but nobody may
 * find it.
 */
function hitsCte(q: SearchSql, params: unknown[]): string {
  const rooms = `$${params.push(q.ranges.map((r) => r.roomId))}::text[]`;
  const los = `$${params.push(q.ranges.map((r) => r.range.lo))}::bigint[]`;
  const his = `$${params.push(q.ranges.map((r) => r.range.hi))}::bigint[]`;
  const roomIds = `$${params.push([...new Set(q.ranges.map((r) => r.roomId))])}::text[]`;
  const query = `to_tsquery('simple', $${params.push(q.tsquery)})`;
  const extra: string[] = [];
  if (q.senders) extra.push(`AND e.sender = ANY($${params.push(q.senders)}::text[])`);
  if (q.notSenders) extra.push(`AND NOT (e.sender = ANY($${params.push(q.notSenders)}::text[]))`);
  if (q.containsUrl !== undefined)
    extra.push(`AND (jsonb_typeof((e.json::jsonb -> 'content') -> 'url') = 'string') IS NOT DISTINCT FROM $${params.push(q.containsUrl)}`);
  const branches = q.keys.map((key) => {
    const { type, field } = SEARCH_KEYS[key];
    const vector = `hs_search_vector(e.json, '${field}')`;
    return `SELECT e.stream_ordering, e.room_id, e.sender, e.type, ts_rank_cd(${vector}, ${query}) AS rank
      FROM hs_events e
      WHERE e.type = '${type}' AND ${vector} @@ ${query} AND e.room_id = ANY(${roomIds}) AND e.redacted_by IS NULL ${extra.join(' ')}`;
  });
  return `matched AS MATERIALIZED (${branches.join('\nUNION ALL\n')}),
    hits AS (SELECT m.* FROM matched m JOIN unnest(${rooms}, ${los}, ${his}) AS vis(room_id, lo, hi)
      ON m.room_id = vis.room_id AND m.stream_ordering BETWEEN vis.lo AND vis.hi)`;
}

/** Results after `cursor` in the requested order. */
function afterCursor(order: SearchOrder, cursor: SearchCursor | undefined, params: unknown[]): string {
  if (!cursor) return 'true';
  const pos = `$${params.push(cursor.position)}::bigint`;
  if (order === 'recent') return `h.stream_ordering < ${pos}`;
  const rank = `$${params.push(cursor.rank)}::real`;
  return `(h.rank < ${rank} OR (h.rank = ${rank} AND h.stream_ordering < ${pos}))`;
}

const ORDER_BY: Record<SearchOrder, string> = {
  recent: 'h.stream_ordering DESC',
  rank: 'h.rank DESC, h.stream_ordering DESC',
};

/** The statement of one page of hits, full event rows included; `limit + 1` tells whether another page exists. */
export function searchPageSql(q: SearchSql, order: SearchOrder, cursor: SearchCursor | undefined, limit: number) {
  const params: unknown[] = [];
  const cte = hitsCte(q, params);
  const after = afterCursor(order, cursor, params);
  const text = `WITH ${cte}
     SELECT ${EVENT_COLUMNS}, h.rank, h.room_id, h.sender, h.type
     FROM hits h JOIN hs_events e ON e.stream_ordering = h.stream_ordering ${EVENT_JOINS}
     WHERE ${after} ORDER BY ${ORDER_BY[order]} LIMIT $${params.push(limit + 1)}`;
  return { text, params };
}

export async function searchPage(db: Queryable, q: SearchSql, order: SearchOrder, cursor: SearchCursor | undefined, limit: number) {
  const { text, params } = searchPageSql(q, order, cursor, limit);
  const { rows } = await db.query<SearchHit>(text, params);
  return rows.map((r) => ({ ...r, rank: Number(r.rank) }));
}

/**
 * Hit counts per (room, sender): all of them (the response's `count`, group sizes) and those after
 * the cursor (to tell whether a group continues past this page).
 */
export async function searchCounts(db: Queryable, q: SearchSql, order: SearchOrder, cursor: SearchCursor | undefined) {
  const params: unknown[] = [];
  const cte = hitsCte(q, params);
  const after = afterCursor(order, cursor, params);
  const { rows } = await db.query<{ room_id: string; sender: string; total: number; after: number }>(
    `WITH ${cte}
     SELECT h.room_id, h.sender, count(*)::int AS total, (count(*) FILTER (WHERE ${after}))::int AS after
     FROM hits h GROUP BY h.room_id, h.sender`,
    params,
  );
  return rows;
}
