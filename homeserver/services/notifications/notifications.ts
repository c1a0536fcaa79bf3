import { MatrixError } from '../../matrix/errors.js';
import type { Pdu } from '../../matrix/pdu.js';
import { userLevel } from '../../matrix/power-levels.js';
import type { Db } from '../../storage/db.js';
import { EVENT_COLUMNS, EVENT_JOINS, toClientEvent, type ClientEvent, type EventRow } from '../rooms/client-event.js';
import type { RoomState } from '../rooms/room-state.js';
import type { RoomStateCache } from '../rooms/room-state-cache.js';
import { evaluatePushRules, type PushAction, type PushEvent, type PushRuleset } from '../user-data/index.js';

export interface Notification {
  actions: PushAction[];
  event: ClientEvent;
  read: boolean;
  room_id: string;
  ts: number;
}

export interface NotificationsPage {
  notifications: Notification[];
  next_token?: string;
}

export interface NotificationsQuery {
  from?: string;
  limit?: number;
  only?: string;
}

const DEFAULT_LIMIT = 10;
const MAX_LIMIT = 100;
/** Events read per query while looking for notifying ones. */
const BATCH = 200;
/**
 * Events examined per request at most. A user whose rooms are quiet for them (everything muted)
 * gets a partial page with a next_token rather than a request that scans their whole history.
 */
const MAX_SCANNED = 2_000;

/**
 * `GET /_matrix/client/v3/notifications`: the events the user's push rules say notify them,
 * newest first. Nothing is stored when events arrive: the list is computed at read time, by
 * walking the user's joined rooms backwards in stream order from `from` (an opaque stream
 * position) and running the push rule evaluator (the one sync's unread counts use) on each event.
 *
 * Approximations, documented rather than hidden: the rules and the room context (member count,
 * display name, power levels) are today's, not those at the time of the event; only rooms the user
 * is joined to now are listed, from their current join on; redacted events are left out. `read`
 * is whether the user's unthreaded m.read / m.read.private receipt in the room is at or after the
 * event, and `ts` is the event's origin_server_ts.
 */
export class Notifications {
  constructor(
    private readonly deps: {
      db: Db;
      cache: RoomStateCache;
      ruleset: (userId: string) => Promise<PushRuleset>;
    },
  ) {}

  async list(userId: string, deviceId: string | undefined, q: NotificationsQuery): Promise<NotificationsPage> {
    const limit = Math.min(Math.max(q.limit ?? DEFAULT_LIMIT, 1), MAX_LIMIT);
    const highlightOnly = q.only === 'highlight';
    let before = parseFrom(q.from);

    const since = await this.joinedSince(userId);
    if (since.size === 0) return { notifications: [] };
    const [ruleset, readUpTo] = await Promise.all([this.deps.ruleset(userId), this.readUpTo(userId, [...since.keys()])]);
    const rooms = new Map<string, RoomContext | undefined>();

    const notifications: Notification[] = [];
    let scanned = 0;
    while (notifications.length < limit && scanned < MAX_SCANNED) {
      const batch = await this.eventsBefore(userId, since, before, BATCH);
      for (const row of batch) {
        before = row.stream_ordering;
        scanned++;
        const pdu = JSON.parse(row.json) as Pdu;
        if (!rooms.has(pdu.room_id)) rooms.set(pdu.room_id, await this.roomContext(pdu.room_id, userId));
        const room = rooms.get(pdu.room_id);
        if (!room) continue;
        const ctx = { ...room.base, senderPowerLevel: userLevel(room.pl, pdu.sender, room.create, room.version), ruleset };
        const result = evaluatePushRules(pdu as unknown as PushEvent, ctx);
        if (!result.notify || (highlightOnly && !result.highlight)) continue;
        notifications.push({
          actions: result.actions,
          event: toClientEvent(row, { userId, deviceId }),
          read: (readUpTo.get(pdu.room_id) ?? 0) >= row.stream_ordering,
          room_id: pdu.room_id,
          ts: pdu.origin_server_ts,
        });
        if (notifications.length === limit) break;
      }
      if (batch.length < BATCH && notifications.length < limit) return { notifications }; // history exhausted
    }
    return { notifications, next_token: String(before) };
  }

  private async roomContext(roomId: string, userId: string): Promise<RoomContext | undefined> {
    const room = await this.deps.cache.get(roomId);
    return room && contextOf(room, userId);
  }

  /** Per joined room, the stream position of the join that started the current membership. */
  private async joinedSince(userId: string): Promise<Map<string, number>> {
    const { rows } = await this.deps.db.query<{ room_id: string; stream_ordering: number; membership: string }>(
      `SELECT e.room_id, e.stream_ordering, e.json::jsonb -> 'content' ->> 'membership' AS membership
       FROM hs_memberships m JOIN hs_events e
         ON e.room_id = m.room_id AND e.type = 'm.room.member' AND e.state_key = m.user_id
       WHERE m.user_id = $1 AND m.membership = 'join'
       ORDER BY e.room_id, e.stream_ordering`,
      [userId],
    );
    const since = new Map<string, number>();
    for (const r of rows) {
      // A run of join events (profile changes) keeps the first; any other membership resets it.
      if (r.membership !== 'join') since.delete(r.room_id);
      else if (!since.has(r.room_id)) since.set(r.room_id, Number(r.stream_ordering));
    }
    return since;
  }

  /** Other users' unredacted events in the rooms, after each room's join, before `before`, newest first. */
  private async eventsBefore(userId: string, since: Map<string, number>, before: number, limit: number): Promise<EventRow[]> {
    const { rows } = await this.deps.db.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM unnest($1::text[], $2::bigint[]) AS j(room_id, since)
       JOIN hs_events e ON e.room_id = j.room_id AND e.stream_ordering > j.since AND e.stream_ordering < $3
       ${EVENT_JOINS}
       WHERE e.sender <> $4 AND e.redacted_by IS NULL
       ORDER BY e.stream_ordering DESC LIMIT $5`,
      [[...since.keys()], [...since.values()], before, userId, limit],
    );
    return rows.map((r) => ({ ...r, stream_ordering: Number(r.stream_ordering) }));
  }

  /** The position of the user's latest unthreaded read receipt (public or private) per room. */
  private async readUpTo(userId: string, roomIds: string[]): Promise<Map<string, number>> {
    const { rows } = await this.deps.db.query<{ room_id: string; p: string }>(
      `SELECT room_id, max(event_stream) AS p FROM hs_receipts WHERE user_id = $1 AND room_id = ANY($2) AND thread_id = '' GROUP BY room_id`,
      [userId, roomIds],
    );
    return new Map(rows.map((r) => [r.room_id, Number(r.p)]));
  }
}

function parseFrom(from: string | undefined): number {
  if (from === undefined || from === '') return Number.MAX_SAFE_INTEGER;
  if (!/^\d{1,15}$/.test(from)) throw MatrixError.invalidParam('Invalid from token');
  return Number(from);
}

interface RoomContext {
  base: { userId: string; displayName: string | null; roomMemberCount: number; notificationLevels?: Record<string, unknown> };
  pl: Record<string, unknown> | undefined;
  create: Pdu | undefined;
  version: RoomState['version'];
}

/** The push-rule context of `room` from its current state, computed once per room and request. */
function contextOf(room: RoomState, userId: string): RoomContext {
  let joined = 0;
  for (const { pdu } of room.state.values()) if (pdu.type === 'm.room.member' && pdu.content.membership === 'join') joined++;
  const pl = room.get('m.room.power_levels', '')?.content;
  return {
    base: {
      userId,
      displayName: (room.get('m.room.member', userId)?.content.displayname as string | undefined) ?? null,
      roomMemberCount: joined,
      notificationLevels: pl?.notifications as Record<string, unknown> | undefined,
    },
    pl,
    create: room.get('m.room.create', ''),
    version: room.version,
  };
}
