import { MatrixError } from '../../matrix/errors.js';
import type { Queryable } from '../../storage/db.js';
import type { Requester } from '../requester.js';
import type { EventStore } from '../rooms/event-store.js';
import type { RoomReads } from '../rooms/room-reads.js';

export interface ReportListQuery {
  /** Offset into the list (Synapse's admin API pages by offset too). */
  from: number;
  limit: number;
  /** 'b': newest first (default), 'f': oldest first. */
  dir: 'f' | 'b';
  userId?: string;
  roomId?: string;
}

interface ReportRow {
  id: number;
  received_ts: number;
  room_id: string;
  event_id: string | null;
  user_id: string;
  reason: string | null;
  score: number | null;
  sender: string | null;
  name: string | null;
  canonical_alias: string | null;
  total: number;
}

/**
 * Reports of events and rooms by users (spec: "Reporting content"), kept in Postgres for the
 * server admins, who read them with GET /_causeway/admin/v1/event_reports and /room_reports.
 * A user can only report an event they can see: anything else answers 404, the same as an
 * event that does not exist, so reports do not reveal what a room holds.
 */
export class ContentReports {
  constructor(
    private db: Queryable,
    private reads: Pick<RoomReads, 'event'>,
    private store: Pick<EventStore, 'getEvent'>,
  ) {}

  async reportEvent(requester: Requester, roomId: string, eventId: string, body: { reason?: string; score?: number }): Promise<void> {
    try {
      await this.reads.event(requester, roomId, eventId);
    } catch (err) {
      // Not a member, not visible or not there: one answer for all (as Synapse does).
      if (err instanceof MatrixError && (err.errcode === 'M_FORBIDDEN' || err.errcode === 'M_NOT_FOUND')) throw notFound();
      throw err;
    }
    // Synapse refuses redacted events too (the spec allows it): there is nothing left to review.
    if ((await this.store.getEvent(eventId))?.redacted_by) throw notFound();
    await this.insert(requester.userId, roomId, eventId, body.reason, body);
  }

  async reportRoom(requester: Requester, roomId: string, reason: string): Promise<void> {
    const { rows } = await this.db.query('SELECT 1 FROM hs_rooms WHERE room_id = $1', [roomId]);
    if (!rows.length) throw MatrixError.notFound('Room does not exist');
    await this.insert(requester.userId, roomId, null, reason, { reason });
  }

  /** One page of event reports (`kind: 'event'`) or room reports, with the total count. */
  async list(kind: 'event' | 'room', q: ReportListQuery) {
    const { rows } = await this.db.query<ReportRow>(
      `SELECT r.id, r.received_ts, r.room_id, r.event_id, r.user_id, r.reason,
              CASE WHEN jsonb_typeof(r.content->'score') = 'number' THEN (r.content->>'score')::bigint END AS score,
              e.sender,
              (SELECT (se.json::jsonb)->'content'->>'name' FROM hs_room_state s JOIN hs_events se ON se.event_id = s.event_id
                WHERE s.room_id = r.room_id AND s.type = 'm.room.name' AND s.state_key = '') AS name,
              (SELECT (se.json::jsonb)->'content'->>'alias' FROM hs_room_state s JOIN hs_events se ON se.event_id = s.event_id
                WHERE s.room_id = r.room_id AND s.type = 'm.room.canonical_alias' AND s.state_key = '') AS canonical_alias,
              count(*) OVER () AS total
         FROM hs_content_reports r LEFT JOIN hs_events e ON e.event_id = r.event_id
        WHERE (r.event_id IS NULL) = $1 AND ($2::text IS NULL OR r.user_id = $2) AND ($3::text IS NULL OR r.room_id = $3)
        ORDER BY r.id ${q.dir === 'f' ? 'ASC' : 'DESC'}
        OFFSET $4 LIMIT $5`,
      [kind === 'room', q.userId ?? null, q.roomId ?? null, q.from, q.limit],
    );
    const total = rows[0]?.total ?? (await this.count(kind, q));
    const reports = rows.map(({ total: _total, event_id, score, sender, ...r }) => ({
      ...r,
      ...(kind === 'event' ? { event_id, score, sender } : {}),
    }));
    const next = q.from + rows.length;
    return { reports, total: Number(total), ...(next < Number(total) ? { next_token: next } : {}) };
  }

  private async count(kind: 'event' | 'room', q: ReportListQuery): Promise<number> {
    const { rows } = await this.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM hs_content_reports
        WHERE (event_id IS NULL) = $1 AND ($2::text IS NULL OR user_id = $2) AND ($3::text IS NULL OR room_id = $3)`,
      [kind === 'room', q.userId ?? null, q.roomId ?? null],
    );
    return rows[0]!.n;
  }

  private async insert(userId: string, roomId: string, eventId: string | null, reason: string | undefined, content: object): Promise<void> {
    await this.db.query(
      'INSERT INTO hs_content_reports (received_ts, room_id, event_id, user_id, reason, content) VALUES ($1, $2, $3, $4, $5, $6)',
      [Date.now(), roomId, eventId, userId, reason ?? null, JSON.stringify(content)],
    );
  }
}

const notFound = () => MatrixError.notFound("Unable to report event: it does not exist or you aren't able to see it.");
