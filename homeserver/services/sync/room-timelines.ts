import type { Queryable } from '../../storage/db.js';
import { EVENT_COLUMNS, EVENT_JOINS, type EventRow } from '../rooms/client-event.js';

/**
 * Batched reads for sync: one query for the timelines of all rooms in a response, one for the
 * state changes in the gaps — a sync over 100 rooms costs a handful of round trips, not hundreds.
 */
export class RoomTimelines {
  constructor(private db: Queryable) {}

  /** Rooms (of `roomIds`) with any event in (from, to]. */
  async roomsWithEvents(roomIds: string[], from: number, to: number): Promise<Set<string>> {
    if (!roomIds.length) return new Set();
    const { rows } = await this.db.query<{ room_id: string }>(
      `SELECT r.room_id FROM unnest($1::text[]) AS r(room_id)
       WHERE EXISTS (SELECT 1 FROM hs_events e WHERE e.room_id = r.room_id AND e.stream_ordering > $2 AND e.stream_ordering <= $3)`,
      [roomIds, from, to],
    );
    return new Set(rows.map((r) => r.room_id));
  }

  /**
   * The last `limit + 1` events of each room in (from_room, to_room], newest first: one more than
   * asked so the caller knows whether the timeline is limited.
   */
  async latest(
    ranges: { roomId: string; from: number; to: number }[],
    limit: number,
  ): Promise<Map<string, (EventRow & { silent: boolean })[]>> {
    const out = new Map<string, (EventRow & { silent: boolean })[]>();
    if (!ranges.length) return out;
    const { rows } = await this.db.query<EventRow & { room: string; silent: boolean }>(
      `SELECT x.room, t.* FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS x(room, lo, hi)
       JOIN LATERAL (
         SELECT ${EVENT_COLUMNS}, e.silent FROM hs_events e ${EVENT_JOINS}
         WHERE e.room_id = x.room AND e.stream_ordering > x.lo AND e.stream_ordering <= x.hi
         ORDER BY e.stream_ordering DESC LIMIT $4
       ) t ON true`,
      [ranges.map((r) => r.roomId), ranges.map((r) => r.from), ranges.map((r) => r.to), limit + 1],
    );
    for (const r of rows) {
      const list = out.get(r.room) ?? [];
      list.push(r);
      out.set(r.room, list);
    }
    return out;
  }

  /** The latest state event per (type, state_key) changed in (from, to) of each room: the gap a limited timeline skips. */
  async stateChanges(ranges: { roomId: string; from: number; to: number }[]): Promise<Map<string, EventRow[]>> {
    const out = new Map<string, EventRow[]>();
    if (!ranges.length) return out;
    const { rows } = await this.db.query<EventRow & { room: string }>(
      `SELECT x.room, t.* FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS x(room, lo, hi)
       JOIN LATERAL (
         SELECT ${EVENT_COLUMNS} FROM (
           SELECT DISTINCT ON (type, state_key) event_id FROM hs_events
           WHERE room_id = x.room AND state_key IS NOT NULL AND stream_ordering > x.lo AND stream_ordering < x.hi
           ORDER BY type, state_key, stream_ordering DESC) s
         JOIN hs_events e ON e.event_id = s.event_id ${EVENT_JOINS}
       ) t ON true`,
      [ranges.map((r) => r.roomId), ranges.map((r) => r.from), ranges.map((r) => r.to)],
    );
    for (const r of rows) {
      const list = out.get(r.room) ?? [];
      list.push(r);
      out.set(r.room, list);
    }
    return out;
  }

  /** Current state of several rooms at once (all events, or only some types). */
  async currentState(roomIds: string[]): Promise<Map<string, EventRow[]>> {
    const out = new Map<string, EventRow[]>();
    if (!roomIds.length) return out;
    const { rows } = await this.db.query<EventRow & { room: string }>(
      `SELECT s.room_id AS room, ${EVENT_COLUMNS} FROM hs_room_state s JOIN hs_events e ON e.event_id = s.event_id ${EVENT_JOINS}
       WHERE s.room_id = ANY($1) ORDER BY e.stream_ordering`,
      [roomIds],
    );
    for (const r of rows) {
      const list = out.get(r.room) ?? [];
      list.push(r);
      out.set(r.room, list);
    }
    return out;
  }

  async eventsById(ids: string[]): Promise<Map<string, EventRow>> {
    if (!ids.length) return new Map();
    const { rows } = await this.db.query<EventRow>(`SELECT ${EVENT_COLUMNS} FROM hs_events e ${EVENT_JOINS} WHERE e.event_id = ANY($1)`, [
      ids,
    ]);
    return new Map(rows.map((r) => [r.event_id, r]));
  }

  /**
   * Up to `cap` events per room after the user's read position and up to `to`, sent by others and
   * not imported silently, newest first (for notification counts). Other users' membership changes are left out: the
   * default `.m.rule.member_event` never notifies for them, and in busy rooms they would dominate
   * the evaluation cost. Events from before the user joined never count (as in Synapse, which
   * evaluates push rules for the members of the moment): the floor is the first join after the
   * user's last other membership (leave, invite, ban), so profile changes (join -> join) keep it.
   */
  async unreadEvents(
    userId: string,
    /** Per room, the position up to which everything is read (the unthreaded receipt). */
    readUpTo: Map<string, number>,
    roomIds: string[],
    to: number,
    cap = 100,
  ): Promise<Map<string, { json: string; stream_ordering: number }[]>> {
    const out = new Map<string, { json: string; stream_ordering: number }[]>();
    if (!roomIds.length) return out;
    const { rows } = await this.db.query<{ room: string; json: string; stream_ordering: number }>(
      `SELECT x.room, m.json, m.stream_ordering FROM unnest($1::text[], $2::bigint[]) AS x(room, p)
       CROSS JOIN LATERAL (
         SELECT COALESCE(min(j.stream_ordering), 0) AS joined FROM hs_events j
         WHERE j.room_id = x.room AND j.type = 'm.room.member' AND j.state_key = $3
           AND j.stream_ordering > COALESCE((
             SELECT max(o.stream_ordering) FROM hs_events o
             WHERE o.room_id = x.room AND o.type = 'm.room.member' AND o.state_key = $3
               AND (o.json::jsonb -> 'content' ->> 'membership') IS DISTINCT FROM 'join'), 0)) AS since
       JOIN LATERAL (SELECT json, stream_ordering FROM hs_events
                     WHERE room_id = x.room AND stream_ordering > GREATEST(x.p, since.joined) AND stream_ordering <= $5 AND sender <> $3
                       AND redacted_by IS NULL
                       AND NOT silent
                       AND (type <> 'm.room.member' OR state_key = $3)
                     ORDER BY stream_ordering DESC LIMIT $4) m ON true`,
      [roomIds, roomIds.map((r) => readUpTo.get(r) ?? 0), userId, cap, to],
    );
    for (const r of rows) {
      const list = out.get(r.room) ?? [];
      list.push({ json: r.json, stream_ordering: r.stream_ordering });
      out.set(r.room, list);
    }
    return out;
  }

  /** Events with positions in (after, upTo]: what a lost or overtaken commit notification announced. */
  async eventsBetween(after: number, upTo: number): Promise<{ room_id: string; stream_ordering: number; member: string | null }[]> {
    const { rows } = await this.db.query<{ room_id: string; stream_ordering: number; member: string | null }>(
      `SELECT room_id, stream_ordering, CASE WHEN type = 'm.room.member' THEN state_key END AS member FROM hs_events
       WHERE stream_ordering > $1 AND stream_ordering <= $2`,
      [after, upTo],
    );
    return rows;
  }
}
