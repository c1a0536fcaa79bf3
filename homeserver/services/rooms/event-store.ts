import type { Queryable } from '../../storage/db.js';
import { CoalescingLoader } from '../../storage/coalescing-loader.js';
import { EVENT_COLUMNS, EVENT_JOINS, type EventRow } from './client-event.js';

export type Direction = 'b' | 'f';

/** Reads of persisted room events. Writes go through RoomInput only. */
export class EventStore {
  /** Every send checks its transaction id; under load those checks share queries. */
  private txnLoader: CoalescingLoader<string, string | undefined>;

  constructor(private db: Queryable) {
    this.txnLoader = new CoalescingLoader((keys) => this.loadTxns(keys), undefined);
  }

  async getEvent(eventId: string): Promise<EventRow | undefined> {
    const { rows } = await this.db.query<EventRow>(`SELECT ${EVENT_COLUMNS} FROM hs_events e ${EVENT_JOINS} WHERE e.event_id = $1`, [
      eventId,
    ]);
    return rows[0];
  }

  async getEvents(eventIds: string[]): Promise<EventRow[]> {
    const { rows } = await this.db.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM hs_events e ${EVENT_JOINS} WHERE e.event_id = ANY($1) ORDER BY e.stream_ordering`,
      [eventIds],
    );
    return rows;
  }

  /**
   * Events on one side of a gap, in the direction's order. A position p names the gap right after
   * the event at stream p: backwards reads events <= p, forwards reads events > p.
   */
  async paginate(roomId: string, from: number, dir: Direction, limit: number, types?: string[]): Promise<EventRow[]> {
    const cmp = dir === 'b' ? '<=' : '>';
    const order = dir === 'b' ? 'DESC' : 'ASC';
    const typeFilter = types?.length ? 'AND e.type = ANY($4)' : '';
    const params: unknown[] = [roomId, from, limit];
    if (types?.length) params.push(types);
    const { rows } = await this.db.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM hs_events e ${EVENT_JOINS}
       WHERE e.room_id = $1 AND e.stream_ordering ${cmp} $2 ${typeFilter}
       ORDER BY e.stream_ordering ${order} LIMIT $3`,
      params,
    );
    return rows;
  }

  /** The room state as it was right after the event at `position` (all state, or some types). */
  async stateAt(roomId: string, position: number): Promise<EventRow[]> {
    const { rows } = await this.db.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM (
         SELECT DISTINCT ON (type, state_key) event_id FROM hs_events
         WHERE room_id = $1 AND state_key IS NOT NULL AND stream_ordering <= $2
         ORDER BY type, state_key, stream_ordering DESC) s
       JOIN hs_events e ON e.event_id = s.event_id ${EVENT_JOINS} ORDER BY e.stream_ordering`,
      [roomId, position],
    );
    return rows;
  }

  async currentState(roomId: string, type?: string, stateKey?: string): Promise<EventRow[]> {
    const conds = ['s.room_id = $1'];
    const params: unknown[] = [roomId];
    if (type !== undefined) conds.push(`s.type = $${params.push(type)}`);
    if (stateKey !== undefined) conds.push(`s.state_key = $${params.push(stateKey)}`);
    const { rows } = await this.db.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM hs_room_state s JOIN hs_events e ON e.event_id = s.event_id ${EVENT_JOINS}
       WHERE ${conds.join(' AND ')} ORDER BY e.stream_ordering`,
      params,
    );
    return rows;
  }

  /** Stream positions of a user's membership changes and of the room's history_visibility changes. */
  async visibilityTimeline(roomId: string, userId: string) {
    const { rows } = await this.db.query<{ stream_ordering: number; type: string; content: string }>(
      `SELECT stream_ordering, type, json AS content FROM hs_events
       WHERE room_id = $1 AND ((type = 'm.room.member' AND state_key = $2) OR (type = 'm.room.history_visibility' AND state_key = ''))
       ORDER BY stream_ordering`,
      [roomId, userId],
    );
    return rows.map((r) => ({
      position: r.stream_ordering,
      type: r.type,
      content: (JSON.parse(r.content) as { content: Record<string, unknown> }).content,
    }));
  }

  eventIdForTxn(userId: string, deviceId: string, txnId: string): Promise<string | undefined> {
    return this.txnLoader.load(`${userId}\u0000${deviceId}\u0000${txnId}`);
  }

  private async loadTxns(keys: string[]): Promise<Map<string, string>> {
    const parts = keys.map((k) => k.split('\u0000'));
    // LATERAL keeps this an index lookup per key whatever the planner thinks of unnest's size.
    const { rows } = await this.db.query<{ u: string; d: string; x: string; event_id: string }>(
      `SELECT k.u, k.d, k.x, t.event_id FROM unnest($1::text[], $2::text[], $3::text[]) AS k(u, d, x)
       JOIN LATERAL (SELECT event_id FROM hs_event_txns WHERE user_id = k.u AND device_id = k.d AND txn_id = k.x) t ON true`,
      [parts.map((p) => p[0]), parts.map((p) => p[1]), parts.map((p) => p[2])],
    );
    return new Map(rows.map((r) => [`${r.u}\u0000${r.d}\u0000${r.x}`, r.event_id]));
  }

  async maxStreamOrdering(roomId?: string): Promise<number> {
    const { rows } = roomId
      ? await this.db.query<{ m: number | null }>('SELECT max(stream_ordering) AS m FROM hs_events WHERE room_id = $1', [roomId])
      : await this.db.query<{ m: number | null }>('SELECT max(stream_ordering) AS m FROM hs_events');
    return rows[0]?.m ?? 0;
  }
}
