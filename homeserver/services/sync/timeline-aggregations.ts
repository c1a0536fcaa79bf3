import type { ClientEvent, EventRow } from '../rooms/client-event.js';

/**
 * The events of a sync timeline that can have children up to the response's position, so a woken
 * sync asks for bundled aggregations only when one may exist. A live child comes after its parent
 * and a timeline is the newest events of its range, so every child of a timeline event up to the
 * position is one of `rows`: only parents named in their `m.relates_to` need the query. A limited
 * timeline asks about all its events anyway: history imported backwards (negative positions, see
 * history-writer.ts) can place a child before its parent, and such a child may sit in the gap.
 *
 * `rows`: everything read for the range (before visibility and filters); `events`: what is returned.
 */
export function mayHaveChildren(rows: readonly EventRow[], limited: boolean, events: ClientEvent[]): ClientEvent[] {
  if (limited) return events;
  let parents: Set<string> | undefined;
  for (const r of rows) {
    // A substring test first: most events relate to nothing, and this skips their parse.
    if (!r.json.includes('"m.relates_to"')) continue;
    const rel = (JSON.parse(r.json) as { content?: { 'm.relates_to'?: { event_id?: unknown } } }).content?.['m.relates_to'];
    if (typeof rel?.event_id === 'string') (parents ??= new Set()).add(rel.event_id);
  }
  return parents ? events.filter((e) => parents!.has(e.event_id)) : [];
}
