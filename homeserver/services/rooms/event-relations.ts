import type { BuiltEvent } from './event-builder.js';

/** The relation an event declares in `content['m.relates_to']`, as hs_event_relations stores it. */
export interface EventRelation {
  eventId: string;
  roomId: string;
  parentId: string;
  relType: string;
  sender: string;
  type: string;
  /** m.annotation's `key` (the reaction), else null. */
  key: string | null;
}

/**
 * The relation of a stored event, or undefined. Only `rel_type` + `event_id` form a relation
 * (a bare `m.in_reply_to` reply does not); the parent may be unknown, as the spec allows.
 */
export function relationOf(e: BuiltEvent): EventRelation | undefined {
  const rel = (e.pdu.content as { 'm.relates_to'?: unknown })['m.relates_to'];
  if (!rel || typeof rel !== 'object' || Array.isArray(rel)) return undefined;
  const { rel_type: relType, event_id: parentId, key } = rel as Record<string, unknown>;
  if (typeof relType !== 'string' || !relType || typeof parentId !== 'string' || !parentId.startsWith('$')) return undefined;
  return {
    eventId: e.eventId,
    roomId: e.pdu.room_id,
    parentId,
    relType,
    sender: e.pdu.sender,
    type: e.pdu.type,
    key: relType === 'm.annotation' && typeof key === 'string' ? key : null,
  };
}

/** The relations among `events`, as unnest() arrays: event_id, room_id, parent_id, rel_type, sender, type, key. */
export function relationColumns(events: BuiltEvent[]): unknown[][] | undefined {
  const rels = events.flatMap((e) => relationOf(e) ?? []);
  if (!rels.length) return undefined;
  return [
    rels.map((r) => r.eventId),
    rels.map((r) => r.roomId),
    rels.map((r) => r.parentId),
    rels.map((r) => r.relType),
    rels.map((r) => r.sender),
    rels.map((r) => r.type),
    rels.map((r) => r.key),
  ];
}

/**
 * A CTE that inserts the relations given as parameters $first..$first+6, taking each child's
 * position from `source` (a CTE or table with event_id and stream_ordering). Only added to a write
 * statement when the batch has relations, so a plain message costs nothing more.
 */
export function relationsCte(first: number, source: string): string {
  const p = (i: number) => `$${first + i}`;
  return `rel AS (
       INSERT INTO hs_event_relations (room_id, parent_id, rel_type, event_id, stream_ordering, sender, type, aggregation_key)
       SELECT x.r, x.p, x.rt, x.e, src.stream_ordering, x.s, x.t, x.k
       FROM unnest(${p(0)}::text[], ${p(1)}::text[], ${p(2)}::text[], ${p(3)}::text[], ${p(4)}::text[], ${p(5)}::text[], ${p(6)}::text[])
         AS x(e, r, p, rt, s, t, k)
       JOIN ${source} src ON src.event_id = x.e
       ON CONFLICT DO NOTHING)`;
}
