import { MatrixError } from '../../matrix/errors.js';
import type { Pdu } from '../../matrix/pdu.js';
import type { Db } from '../../storage/db.js';
import { EVENT_COLUMNS, EVENT_JOINS, toClientEvent, type ClientEvent, type EventRow } from '../rooms/client-event.js';
import type { RoomStateCache } from '../rooms/room-state-cache.js';
import type { PushAction, PushEvaluation, PushEvent, PushRuleset } from '../user-data/index.js';
import { compileRuleset, type CompiledRuleset } from '../user-data/push/evaluator.js';
import { roomPushFacts } from '../user-data/push/room-push-facts.js';
import { UNREAD_CAP } from '../sync/notification-counts.js';
import { isRead, loadReadPositions, readFloor, threadOf } from '../ephemeral/read-positions.js';

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

/** An event the user's push rules say notifies them, with the rule's verdict (pushers send these). */
export interface NotifyingEvent {
  row: EventRow;
  pdu: Pdu;
  evaluation: PushEvaluation;
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
 * event, and `ts` is the event's origin_server_ts. Silent events (batch_send without
 * send_notification) notify nobody, here as in sync's unread counts.
 *
 * Pushers (services/push/) use the same evaluation forwards (`notifyingAfter`) and for their badge
 * (`unreadRooms`), so a phone is pushed exactly what this endpoint lists.
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
    const [ruleset, reads] = await Promise.all([this.deps.ruleset(userId), loadReadPositions(this.deps.db, userId, [...since.keys()])]);
    const evaluator = new RowEvaluator(this.deps.cache, userId, ruleset);

    const notifications: Notification[] = [];
    let scanned = 0;
    while (notifications.length < limit && scanned < MAX_SCANNED) {
      const batch = await this.eventsBefore(userId, since, before, BATCH);
      for (const row of batch) {
        before = row.stream_ordering;
        scanned++;
        const pdu = JSON.parse(row.json) as Pdu;
        const result = await evaluator.evaluate(pdu);
        if (!result?.notify || (highlightOnly && !result.highlight)) continue;
        // No profile_tag: the spec defines it as that of the matching rule, and rules have no
        // profile tags (device-specific rulesets were never specified). Synapse's column is never
        // written, so it answers null; the spec types it as a string, so it is left out here.
        notifications.push({
          actions: result.actions,
          event: toClientEvent(row, { userId, deviceId }),
          read: isRead(reads.get(pdu.room_id), threadOf(pdu), row.stream_ordering),
          room_id: pdu.room_id,
          ts: pdu.origin_server_ts,
        });
        if (notifications.length === limit) break;
      }
      if (batch.length < BATCH && notifications.length < limit) return { notifications }; // history exhausted
    }
    return { notifications, next_token: String(before) };
  }

  /**
   * For pushers: the events in (`after`, `upTo`] that the user's push rules say notify them,
   * oldest first, from at most `limit` candidate events (other users' unredacted, non-silent events
   * of the rooms the user is joined to now, after their join, and invites and other membership
   * changes aimed at the user). `scannedTo` is how far the scan got: `upTo` unless `limit` cut it.
   */
  async notifyingAfter(
    userId: string,
    after: number,
    upTo: number,
    limit: number,
  ): Promise<{ events: NotifyingEvent[]; scannedTo: number }> {
    if (upTo <= after) return { events: [], scannedTo: after };
    const since = await this.joinedSince(userId);
    const rows = await this.eventsAfter(userId, since, after, upTo, limit);
    if (!rows.length) return { events: [], scannedTo: upTo };
    const evaluator = new RowEvaluator(this.deps.cache, userId, await this.deps.ruleset(userId));
    const events: NotifyingEvent[] = [];
    for (const row of rows) {
      const pdu = JSON.parse(row.json) as Pdu;
      const evaluation = await evaluator.evaluate(pdu);
      if (evaluation?.notify) events.push({ row, pdu, evaluation });
    }
    return { events, scannedTo: rows.length < limit ? upTo : rows[rows.length - 1]!.stream_ordering };
  }

  /**
   * The badge a push carries (`counts.unread`): how many joined rooms have at least one notifying
   * event after the user's read receipt, as Synapse counts by default (push.group_unread_count_by_room).
   * Like sync's unread counts, only the newest UNREAD_CAP unread events of a room are looked at.
   */
  async unreadRooms(userId: string): Promise<number> {
    const since = await this.joinedSince(userId);
    if (since.size === 0) return 0;
    const reads = await loadReadPositions(this.deps.db, userId, [...since.keys()]);
    const from = [...since].map(([roomId, joined]) => Math.max(joined, readFloor(reads.get(roomId))));
    const { rows } = await this.deps.db.query<{ json: string; stream_ordering: string }>(
      `SELECT u.json, u.stream_ordering FROM unnest($1::text[], $2::bigint[]) AS j(room_id, since)
       CROSS JOIN LATERAL (
         SELECT e.json, e.stream_ordering FROM hs_events e
          WHERE e.room_id = j.room_id AND e.stream_ordering > j.since AND e.sender <> $3 AND e.redacted_by IS NULL AND NOT e.silent
          ORDER BY e.stream_ordering DESC LIMIT $4) u
       ORDER BY u.stream_ordering DESC`,
      [[...since.keys()], from, userId, UNREAD_CAP],
    );
    if (!rows.length) return 0;
    const evaluator = new RowEvaluator(this.deps.cache, userId, await this.deps.ruleset(userId));
    const notifying = new Set<string>();
    for (const r of rows) {
      const pdu = JSON.parse(r.json) as Pdu;
      if (notifying.has(pdu.room_id) || isRead(reads.get(pdu.room_id), threadOf(pdu), Number(r.stream_ordering))) continue;
      if ((await evaluator.evaluate(pdu))?.notify) notifying.add(pdu.room_id);
    }
    return notifying.size;
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
       WHERE e.sender <> $4 AND e.redacted_by IS NULL AND NOT e.silent
       ORDER BY e.stream_ordering DESC LIMIT $5`,
      [[...since.keys()], [...since.values()], before, userId, limit],
    );
    return rows.map((r) => ({ ...r, stream_ordering: Number(r.stream_ordering) }));
  }

  /** notifyingAfter's candidates, oldest first: events of joined rooms, and membership events aimed at the user. */
  private async eventsAfter(userId: string, since: Map<string, number>, after: number, upTo: number, limit: number): Promise<EventRow[]> {
    const { rows } = await this.deps.db.query<EventRow>(
      `SELECT * FROM (
         SELECT ${EVENT_COLUMNS} FROM unnest($1::text[], $2::bigint[]) AS j(room_id, since)
         JOIN hs_events e ON e.room_id = j.room_id AND e.stream_ordering > GREATEST(j.since, $3) AND e.stream_ordering <= $4
         ${EVENT_JOINS}
         WHERE e.sender <> $5 AND e.redacted_by IS NULL AND NOT e.silent
         UNION
         SELECT ${EVENT_COLUMNS} FROM hs_events e ${EVENT_JOINS}
         WHERE e.stream_ordering > $3 AND e.stream_ordering <= $4 AND e.type = 'm.room.member' AND e.state_key = $5
           AND e.sender <> $5 AND e.redacted_by IS NULL AND NOT e.silent
       ) candidates ORDER BY stream_ordering LIMIT $6`,
      [[...since.keys()], [...since.values()], after, upTo, userId, limit],
    );
    return rows.map((r) => ({ ...r, stream_ordering: Number(r.stream_ordering) }));
  }
}

function parseFrom(from: string | undefined): number {
  if (from === undefined || from === '') return Number.MAX_SAFE_INTEGER;
  if (!/^\d{1,15}$/.test(from)) throw MatrixError.invalidParam('Invalid from token');
  return Number(from);
}

/** Runs one user's push rules, compiled once, over events of any of their rooms. */
class RowEvaluator {
  private readonly rules: CompiledRuleset;

  constructor(
    private readonly cache: RoomStateCache,
    private readonly userId: string,
    ruleset: PushRuleset,
  ) {
    this.rules = compileRuleset(ruleset);
  }

  /** The rules' verdict, or undefined when the room is unknown. */
  async evaluate(pdu: Pdu): Promise<PushEvaluation | undefined> {
    const room = await this.cache.get(pdu.room_id);
    if (!room) return undefined;
    const facts = roomPushFacts(room);
    return this.rules.evaluate(pdu as unknown as PushEvent, {
      userId: this.userId,
      displayName: facts.displayName(this.userId),
      roomMemberCount: facts.joinedMembers,
      senderPowerLevel: facts.senderPowerLevel(pdu.sender),
      notificationLevels: facts.notificationLevels,
    });
  }
}
