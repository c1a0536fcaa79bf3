import type { Queryable } from '../../storage/db.js';
import { EVENT_COLUMNS, EVENT_JOINS, toClientEvent, type ClientEvent, type EventRow, type Viewer } from './client-event.js';

type AggregateRow = EventRow & { kind: 'thread' | 'edit' | 'reference'; parent: string; n: number | null; mine: boolean | null };

/**
 * Bundled aggregations (spec: "Aggregations of child events"), added to `unsigned['m.relations']`
 * of the given client events in place:
 *   m.thread    { latest_event, count, current_user_participated }  (the root's sender counts as a participant)
 *   m.replace   the most recent valid edit (origin_server_ts, then event_id), as a client event: same
 *               sender and type as the original, neither a state event, original not redacted and not an edit itself
 *   m.reference { chunk: [{ event_id }] }
 * Reactions (m.annotation) are not bundled, as in the current spec. One query for all the events
 * of a response; children after `upTo` (the response's position, or a departed user's cutoff) are
 * left out, so a response stays consistent with its tokens.
 */
export async function bundleAggregations(
  db: Queryable,
  events: ClientEvent[],
  viewer: Viewer,
  upTo = Number.MAX_SAFE_INTEGER,
): Promise<void> {
  if (!events.length) return;
  // Parents and children share a room: (room, parent) pairs are what the relations index is keyed by.
  // Edits are looked up for the events and for each thread's latest reply too (a thread summary
  // shows that reply as edited, as Synapse bundles it), still in the one statement.
  const { rows } = await db.query<AggregateRow>(
    `WITH q AS (SELECT DISTINCT * FROM unnest($1::text[], $2::text[]) AS q(room, parent)),
     rel AS (
       SELECT x.* FROM q JOIN hs_event_relations x ON x.room_id = q.room AND x.parent_id = q.parent
       WHERE x.rel_type IN ('m.thread', 'm.reference') AND x.stream_ordering <= $4),
     threads AS (
       SELECT room_id, parent_id, count(*) AS n, bool_or(sender = $3) AS mine, max(stream_ordering) AS latest
       FROM rel WHERE rel_type = 'm.thread' GROUP BY room_id, parent_id),
     edited AS (
       SELECT room, parent FROM q
       UNION SELECT t.room_id, l.event_id FROM threads t JOIN hs_events l ON l.stream_ordering = t.latest),
     edits AS (
       SELECT DISTINCT ON (x.parent_id) x.parent_id, c.stream_ordering FROM edited d
       JOIN hs_event_relations x ON x.room_id = d.room AND x.parent_id = d.parent AND x.rel_type = 'm.replace' AND x.stream_ordering <= $4
       JOIN hs_events c ON c.event_id = x.event_id
       JOIN hs_events p ON p.event_id = x.parent_id AND p.room_id = x.room_id
       WHERE c.sender = p.sender AND c.type = p.type AND c.state_key IS NULL AND p.state_key IS NULL AND p.redacted_by IS NULL
         AND NOT EXISTS (SELECT 1 FROM hs_event_relations pr WHERE pr.event_id = p.event_id AND pr.rel_type = 'm.replace')
       ORDER BY x.parent_id, c.origin_server_ts DESC, c.event_id DESC),
     picked AS (
       SELECT 'thread' AS kind, parent_id, n, mine, latest AS pos FROM threads
       UNION ALL SELECT 'edit', parent_id, NULL, NULL, stream_ordering FROM edits
       UNION ALL SELECT 'reference', parent_id, NULL, NULL, stream_ordering FROM rel WHERE rel_type = 'm.reference')
     SELECT k.kind, k.parent_id AS parent, k.n::int AS n, k.mine, ${EVENT_COLUMNS}
     FROM picked k JOIN hs_events e ON e.stream_ordering = k.pos ${EVENT_JOINS}
     ORDER BY e.stream_ordering`,
    [events.map((e) => e.room_id), events.map((e) => e.event_id), viewer.userId, upTo],
  );
  if (!rows.length) return;
  const byParent = new Map<string, Record<string, unknown>>();
  const of = (parent: string) => {
    let m = byParent.get(parent);
    if (!m) byParent.set(parent, (m = {}));
    return m;
  };
  const now = Date.now();
  const latestEvents: ClientEvent[] = [];
  for (const r of rows) {
    const m = of(r.parent);
    if (r.kind === 'thread') {
      const latest = toClientEvent(r, viewer, now);
      latestEvents.push(latest);
      m['m.thread'] = { latest_event: latest, count: r.n, current_user_participated: Boolean(r.mine) };
    } else if (r.kind === 'edit') m['m.replace'] = toClientEvent(r, viewer, now);
    else {
      const refs = (m['m.reference'] ??= { chunk: [] }) as { chunk: { event_id: string }[] };
      refs.chunk.push({ event_id: r.event_id });
    }
  }
  for (const e of events) {
    const m = byParent.get(e.event_id);
    if (!m) continue;
    const thread = m['m.thread'] as { current_user_participated: boolean } | undefined;
    if (thread && e.sender === viewer.userId) thread.current_user_participated = true;
    e.unsigned['m.relations'] = m;
  }
  for (const latest of latestEvents) {
    const edit = byParent.get(latest.event_id)?.['m.replace'];
    if (edit) latest.unsigned['m.relations'] = { 'm.replace': edit };
  }
}
