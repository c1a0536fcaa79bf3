import { MatrixError } from '../../matrix/errors.js';
import { parseEventId, parseRoomId } from '../../matrix/ids.js';
import type { Requester } from '../requester.js';
import { bundleAggregations } from './bundled-aggregations.js';
import { toClientEvent, type ClientEvent, type EventRow } from './client-event.js';
import type { Direction } from './event-store.js';
import { VisibilityFilter } from './history-visibility.js';
import type { RoomsContext } from './rooms-context.js';
import { BEFORE_ALL_EVENTS, parseStreamToken, streamToken } from './stream-token.js';

export interface EventFilter {
  limit?: number;
  types?: string[];
  not_types?: string[];
  senders?: string[];
  not_senders?: string[];
  lazy_load_members?: boolean;
  contains_url?: boolean;
}

const MAX_LIMIT = 1000;

/** Read endpoints over room history and state, each filtered by what the requester may see. */
export class RoomReads {
  constructor(private ctx: RoomsContext) {}

  async joinedRooms(userId: string): Promise<string[]> {
    const { rows } = await this.ctx.db.query<{ room_id: string }>(
      "SELECT room_id FROM hs_memberships WHERE user_id = $1 AND membership = 'join' ORDER BY stream_ordering",
      [userId],
    );
    return rows.map((r) => r.room_id);
  }

  async joinedMembers(requester: Requester, roomId: string) {
    const room = await this.requireRoom(roomId);
    if (room.membershipOf(requester.userId) !== 'join' && !requester.isAdmin)
      throw MatrixError.forbidden('You are not joined to this room');
    const joined: Record<string, { display_name?: string; avatar_url?: string }> = {};
    for (const { pdu } of room.state.values()) {
      if (pdu.type !== 'm.room.member' || pdu.content.membership !== 'join') continue;
      const c = pdu.content as { displayname?: string; avatar_url?: string };
      joined[pdu.state_key!] = {
        ...(c.displayname ? { display_name: c.displayname } : {}),
        ...(c.avatar_url ? { avatar_url: c.avatar_url } : {}),
      };
    }
    return { joined };
  }

  async members(requester: Requester, roomId: string, q: { at?: string; membership?: string; not_membership?: string }) {
    const filter = await this.visibility(requester, roomId);
    const requested = q.at ? parseStreamToken(q.at) : Number.MAX_SAFE_INTEGER;
    // A token inside backfilled history (negative) has no state of its own: use the latest visible.
    const at = Math.min(requested < 0 ? Number.MAX_SAFE_INTEGER : requested, filter.cutoff);
    const rows =
      at === Number.MAX_SAFE_INTEGER
        ? await this.ctx.store.currentState(roomId, 'm.room.member')
        : await this.ctx.store.stateAt(roomId, at);
    const chunk = rows
      .map((r) => toClientEvent(r, requester))
      .filter((e) => e.type === 'm.room.member')
      .filter((e) => !q.membership || e.content.membership === q.membership)
      .filter((e) => !q.not_membership || e.content.membership !== q.not_membership);
    return { chunk };
  }

  async state(requester: Requester, roomId: string): Promise<ClientEvent[]> {
    const filter = await this.visibility(requester, roomId);
    const rows =
      filter.cutoff === Number.MAX_SAFE_INTEGER
        ? await this.ctx.store.currentState(roomId)
        : await this.ctx.store.stateAt(roomId, filter.cutoff);
    return rows.map((r) => toClientEvent(r, requester));
  }

  async stateEvent(requester: Requester, roomId: string, type: string, stateKey: string): Promise<ClientEvent> {
    const filter = await this.visibility(requester, roomId);
    const rows =
      filter.cutoff === Number.MAX_SAFE_INTEGER
        ? await this.ctx.store.currentState(roomId, type, stateKey)
        : (await this.ctx.store.stateAt(roomId, filter.cutoff)).filter((r) => {
            const e = JSON.parse(r.json) as { type: string; state_key: string };
            return e.type === type && e.state_key === stateKey;
          });
    if (!rows[0]) throw MatrixError.notFound('Event not found');
    return toClientEvent(rows[0], requester);
  }

  /** `GET /rooms/{roomId}/event/{eventId}`, with its bundled aggregations. */
  async event(requester: Requester, roomId: string, eventId: string): Promise<ClientEvent> {
    const { row, filter } = await this.visibleEvent(requester, roomId, eventId);
    const event = toClientEvent(row, requester);
    await bundleAggregations(this.ctx.db, [event], requester, filter.cutoff);
    return event;
  }

  /** A stored event of the room the requester may see, or M_NOT_FOUND (M_FORBIDDEN for a room they were never in). */
  async visibleEvent(requester: Requester, roomId: string, eventId: string): Promise<{ row: EventRow; filter: VisibilityFilter }> {
    parseEventId(eventId);
    const filter = await this.visibility(requester, roomId);
    const row = await this.ctx.store.getEvent(eventId);
    if (!row || (JSON.parse(row.json) as { room_id: string }).room_id !== roomId || !this.visible(filter, row))
      throw MatrixError.notFound('Event not found');
    return { row, filter };
  }

  /**
   * `GET /rooms/{roomId}/messages`: pages of visible events from a token in either direction, with
   * bundled aggregations (one query per page; `bundle: false` for callers that bundle themselves).
   */
  async messages(
    requester: Requester,
    roomId: string,
    q: { from?: string; to?: string; dir: Direction; limit?: number; filter?: EventFilter },
    bundle = true,
  ) {
    const visibility = await this.visibility(requester, roomId);
    const limit = clampLimit(q.limit ?? q.filter?.limit ?? 10);
    // Tokens name gaps between events (see EventStore.paginate); a user who left reads up to their leave.
    // Forwards from the very start includes backfilled history (negative positions, see stream-token.ts).
    let from =
      q.from !== undefined ? parseStreamToken(q.from) : q.dir === 'b' ? await this.ctx.store.maxStreamOrdering(roomId) : BEFORE_ALL_EVENTS;
    if (q.dir === 'b') from = Math.min(from, visibility.cutoff);
    const to = q.to !== undefined ? parseStreamToken(q.to) : undefined;
    const start = streamToken(from);

    const chunk: EventRow[] = [];
    let cursor = from;
    let exhausted = false;
    while (chunk.length < limit && !exhausted) {
      const rows = await this.ctx.store.paginate(roomId, cursor, q.dir, limit * 2, sqlTypes(q.filter));
      if (rows.length < limit * 2) exhausted = true;
      for (const row of rows) {
        const beyond =
          q.dir === 'b' ? to !== undefined && row.stream_ordering <= to : row.stream_ordering > Math.min(to ?? Infinity, visibility.cutoff);
        if (beyond) {
          exhausted = true;
          break;
        }
        cursor = q.dir === 'b' ? row.stream_ordering - 1 : row.stream_ordering;
        if (this.visible(visibility, row) && matchesFilter(row, q.filter)) chunk.push(row);
        if (chunk.length === limit) break;
      }
    }
    const events = chunk.map((r) => toClientEvent(r, requester));
    if (bundle) await bundleAggregations(this.ctx.db, events, requester, visibility.cutoff);
    const end = exhausted && chunk.length < limit ? undefined : streamToken(cursor);
    const result: Record<string, unknown> = { start, chunk: events };
    if (end !== undefined && events.length) result.end = end;
    if (q.filter?.lazy_load_members && events.length) result.state = await this.memberStateFor(roomId, events, requester);
    return result;
  }

  /** `GET /rooms/{roomId}/context/{eventId}`. */
  async context(requester: Requester, roomId: string, eventId: string, limit = 10, filter?: EventFilter) {
    const { row, filter: visibility } = await this.visibleEvent(requester, roomId, eventId);
    const event = toClientEvent(row, requester);
    const n = clampLimit(limit);
    const before = await this.messages(
      requester,
      roomId,
      { from: streamToken(row.stream_ordering - 1), dir: 'b', limit: Math.floor(n / 2), filter },
      false,
    );
    const after = await this.messages(
      requester,
      roomId,
      { from: streamToken(row.stream_ordering), dir: 'f', limit: Math.ceil(n / 2), filter },
      false,
    );
    const eventsAfter = after.chunk as ClientEvent[];
    // One aggregation query for the whole response.
    await bundleAggregations(this.ctx.db, [event, ...(before.chunk as ClientEvent[]), ...eventsAfter], requester, visibility.cutoff);
    const lastRow = eventsAfter.length ? await this.ctx.store.getEvent(eventsAfter[eventsAfter.length - 1]!.event_id) : row;
    // Backfilled history (negative positions) has no state of its own: it was authorised against the
    // room's current state, so that is the state it is shown with.
    const stateRows =
      lastRow!.stream_ordering < 0
        ? await this.ctx.store.currentState(roomId)
        : await this.ctx.store.stateAt(roomId, lastRow!.stream_ordering);
    let state = stateRows.map((r) => toClientEvent(r, requester));
    if (filter?.lazy_load_members) {
      const senders = new Set([event, ...(before.chunk as ClientEvent[]), ...eventsAfter].map((e) => e.sender));
      state = state.filter((e) => e.type !== 'm.room.member' || senders.has(e.state_key!));
    }
    return {
      event,
      events_before: before.chunk,
      events_after: eventsAfter,
      start: (before.end as string | undefined) ?? streamToken(row.stream_ordering - 1),
      end: (after.end as string | undefined) ?? streamToken(lastRow!.stream_ordering),
      state,
    };
  }

  private async memberStateFor(roomId: string, events: ClientEvent[], requester: Requester) {
    const senders = new Set(events.map((e) => e.sender));
    const rows = await this.ctx.store.currentState(roomId, 'm.room.member');
    return rows.map((r) => toClientEvent(r, requester)).filter((e) => senders.has(e.state_key!));
  }

  /** Whether `row` is inside what `filter` lets its user see (history visibility and a departed user's cutoff). */
  visible(filter: VisibilityFilter, row: EventRow): boolean {
    return row.stream_ordering <= filter.cutoff && filter.canSee(row);
  }

  private async requireRoom(roomIdText: string) {
    const room = await this.ctx.cache.get(parseRoomId(roomIdText));
    if (!room) throw MatrixError.notFound('Unknown room');
    return room;
  }

  /** Requester must be or have been in the room (or the room is world-readable). */
  async visibility(requester: Requester, roomIdText: string): Promise<VisibilityFilter> {
    const room = await this.requireRoom(roomIdText);
    const membership = room.membershipOf(requester.userId);
    const worldReadable = room.get('m.room.history_visibility', '')?.content.history_visibility === 'world_readable';
    if (!membership && !worldReadable && !requester.isAdmin) throw MatrixError.forbidden('You are not a member of this room');
    const timeline = await this.ctx.store.visibilityTimeline(room.roomId, requester.userId);
    return new VisibilityFilter(timeline, membership);
  }
}

function clampLimit(n: number): number {
  if (!Number.isInteger(n) || n < 0) throw MatrixError.invalidParam('limit must be a non-negative integer');
  return Math.min(n, MAX_LIMIT);
}

export function matchesFilter(row: EventRow, f: EventFilter | undefined): boolean {
  if (!f) return true;
  const e = JSON.parse(row.json) as { type: string; sender: string; content: Record<string, unknown> };
  if (f.not_types?.some((t) => globMatch(t, e.type))) return false;
  if (f.types && !f.types.some((t) => globMatch(t, e.type))) return false;
  if (f.senders && !f.senders.includes(e.sender)) return false;
  if (f.not_senders?.includes(e.sender)) return false;
  if (f.contains_url !== undefined && (typeof e.content.url === 'string') !== f.contains_url) return false;
  return true;
}

/** Exact type lists can be pushed into SQL; patterns with wildcards are applied in matchesFilter. */
function sqlTypes(f: EventFilter | undefined): string[] | undefined {
  return f?.types && !f.types.some((t) => t.includes('*')) ? f.types : undefined;
}

/** Filter type patterns allow a trailing '*' wildcard (spec: EventFilter.types). */
export function globMatch(pattern: string, value: string): boolean {
  return pattern.endsWith('*') ? value.startsWith(pattern.slice(0, -1)) : pattern === value;
}
