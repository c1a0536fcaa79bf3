import { MatrixError } from '../../../matrix/errors.js';
import type { Queryable } from '../../../storage/db.js';
import type { Requester } from '../../requester.js';
import { toClientEvent, type ClientEvent } from '../client-event.js';
import type { EventStore } from '../event-store.js';
import { globMatch, type RoomReads } from '../room-reads.js';
import { searchResultContexts } from './search-context.js';
import { searchCounts, searchPage, SEARCH_KEYS, type SearchHit, type SearchKey, type SearchSql } from './search-query.js';
import { DEFAULT_CONTEXT, DEFAULT_LIMIT, MAX_CONTEXT, MAX_LIMIT, type RoomEventsCriteria } from './search-request.js';
import { highlightsIn, prefixQuery, searchWords } from './search-terms.js';
import { decodeSearchToken, encodeSearchToken, type GroupKey, type SearchCursor } from './search-token.js';
import { VisibilityFilter } from '../history-visibility.js';
import { visibleRanges, type ReadableRange, type Timeline } from './visible-ranges.js';

interface Deps {
  db: Queryable;
  store: EventStore;
  reads: RoomReads;
}

/**
 * `POST /search`, category room_events: Postgres full-text search (migration 0016's expression
 * indexes) over the rooms the user is or was in, limited to the stream ranges /messages would let
 * them read (visible-ranges.ts), so a user never finds an event they could not page to.
 */
export class RoomSearch {
  constructor(private deps: Deps) {}

  async search(requester: Requester, criteria: RoomEventsCriteria, nextBatch?: string) {
    const order = criteria.order_by ?? 'rank';
    const cursor = nextBatch !== undefined ? decodeSearchToken(nextBatch) : undefined;
    if (cursor && cursor.order !== order) throw MatrixError.invalidParam('next_batch belongs to a search with another order_by');
    const filter = criteria.filter ?? {};
    const limit = Math.min(filter.limit ?? DEFAULT_LIMIT, MAX_LIMIT);
    const words = searchWords(criteria.search_term);
    const keys = searchableKeys(criteria.keys, filter.types, filter.not_types);
    const groupKeys = [...new Set((criteria.groupings?.group_by ?? []).flatMap((g) => (g.key ? [g.key] : [])))];

    let rooms = await this.readableRooms(requester.userId);
    if (filter.rooms) rooms = rooms.filter((r) => filter.rooms!.includes(r.roomId));
    if (filter.not_rooms) rooms = rooms.filter((r) => !filter.not_rooms!.includes(r.roomId));
    let senders = filter.senders;
    // A group's own next_batch keeps paginating inside that group.
    if (cursor?.group?.key === 'room_id') rooms = rooms.filter((r) => r.roomId === cursor.group!.value);
    if (cursor?.group?.key === 'sender') senders = [...(senders ?? [cursor.group.value])].filter((s) => s === cursor.group!.value);

    const empty = { room_events: { count: 0, highlights: [], results: [], ...(groupKeys.length ? { groups: {} } : {}) } };
    if (!words.length || !keys.length || !rooms.length || limit === 0) return { search_categories: empty };

    const sql: SearchSql = {
      keys,
      tsquery: prefixQuery(words),
      ranges: rooms,
      senders,
      notSenders: filter.not_senders,
      containsUrl: filter.contains_url,
    };
    const [page, counts] = await Promise.all([
      searchPage(this.deps.db, sql, order, cursor, limit),
      searchCounts(this.deps.db, sql, order, cursor),
    ]);
    const hits = page.slice(0, limit);
    const more = page.length > limit;
    const cursorAt = (h: SearchHit, group?: SearchCursor['group']): SearchCursor => ({
      order,
      position: h.stream_ordering,
      ...(order === 'rank' ? { rank: h.rank } : {}),
      ...(group ? { group } : cursor?.group ? { group: cursor.group } : {}),
    });

    const ec = criteria.event_context;
    const contexts = ec
      ? await searchResultContexts(this.deps, requester, hits, rooms, {
          before: Math.min(ec.before_limit ?? DEFAULT_CONTEXT, MAX_CONTEXT),
          after: Math.min(ec.after_limit ?? DEFAULT_CONTEXT, MAX_CONTEXT),
          includeProfile: ec.include_profile === true,
        })
      : undefined;
    const results = [];
    const highlights = new Set<string>();
    for (const [i, hit] of hits.entries()) {
      const event = toClientEvent(hit, requester);
      const field = Object.values(SEARCH_KEYS).find((k) => k.type === hit.type)!.field;
      const text = event.content[field];
      if (typeof text === 'string') for (const w of highlightsIn(text, words)) highlights.add(w);
      results.push({ rank: hit.rank, result: event, ...(contexts ? { context: contexts[i] } : {}) });
    }

    const roomEvents: Record<string, unknown> = {
      count: counts.reduce((n, c) => n + c.total, 0),
      highlights: [...highlights],
      results,
    };
    if (more) roomEvents.next_batch = encodeSearchToken(cursorAt(hits[hits.length - 1]!));
    if (groupKeys.length) roomEvents.groups = groupResults(groupKeys, hits, counts, cursorAt);
    if (criteria.include_state) {
      const state: Record<string, ClientEvent[]> = {};
      for (const roomId of new Set(hits.map((h) => h.room_id))) state[roomId] = await this.deps.reads.state(requester, roomId);
      roomEvents.state = state;
    }
    return { search_categories: { room_events: roomEvents } };
  }

  /** Every non-forgotten room the user has a membership in, with the ranges they may read. */
  private async readableRooms(userId: string): Promise<ReadableRange[]> {
    const { db } = this.deps;
    const { rows: memberships } = await db.query<{ room_id: string; membership: string }>(
      `SELECT room_id, membership FROM hs_memberships
       WHERE user_id = $1 AND NOT forgotten AND membership IN ('join', 'invite', 'leave', 'ban')`,
      [userId],
    );
    if (!memberships.length) return [];
    // The inputs of VisibilityFilter for all rooms at once (EventStore.visibilityTimeline, batched).
    const { rows } = await db.query<{ room_id: string; stream_ordering: number; type: string; json: string }>(
      `SELECT room_id, stream_ordering, type, json FROM hs_events
       WHERE room_id = ANY($1) AND ((type = 'm.room.member' AND state_key = $2) OR (type = 'm.room.history_visibility' AND state_key = ''))
       ORDER BY room_id, stream_ordering`,
      [memberships.map((m) => m.room_id), userId],
    );
    const timelines = new Map<string, Timeline>();
    for (const r of rows) {
      const list = timelines.get(r.room_id) ?? [];
      list.push({
        position: Number(r.stream_ordering),
        type: r.type,
        content: (JSON.parse(r.json) as { content: Record<string, unknown> }).content,
      });
      timelines.set(r.room_id, list);
    }
    return memberships.flatMap((m) => {
      const timeline = timelines.get(m.room_id) ?? [];
      const cutoff = new VisibilityFilter(timeline, m.membership).cutoff;
      return visibleRanges(timeline, m.membership).map((range) => ({ roomId: m.room_id, range, cutoff }));
    });
  }
}

/** The keys to search: the requested ones whose event type the filter's types let through. */
function searchableKeys(keys: SearchKey[] | undefined, types?: string[], notTypes?: string[]): SearchKey[] {
  return (keys?.length ? [...new Set(keys)] : (Object.keys(SEARCH_KEYS) as SearchKey[])).filter((key) => {
    const type = SEARCH_KEYS[key].type;
    if (notTypes?.some((t) => globMatch(t, type))) return false;
    return !types || types.some((t) => globMatch(t, type));
  });
}

/**
 * `groups`: this page's results per room and/or sender, in first-appearance order. `count` (not in
 * the spec's schema, which allows extra keys) is the group's size over all pages; a group's
 * `next_batch` continues inside the group and is present only while the group has more hits.
 */
function groupResults(
  groupKeys: GroupKey[],
  hits: SearchHit[],
  counts: { room_id: string; sender: string; total: number; after: number }[],
  cursorAt: (h: SearchHit, group: SearchCursor['group']) => SearchCursor,
) {
  const groups: Record<string, Record<string, Record<string, unknown>>> = {};
  for (const key of groupKeys) {
    const byValue: Record<string, { results: string[]; order: number; last: SearchHit }> = {};
    for (const hit of hits) {
      const value = key === 'room_id' ? hit.room_id : hit.sender;
      const g = (byValue[value] ??= { results: [], order: Object.keys(byValue).length + 1, last: hit });
      g.results.push(hit.event_id);
      g.last = hit;
    }
    groups[key] = {};
    for (const [value, g] of Object.entries(byValue)) {
      const of = counts.filter((c) => (key === 'room_id' ? c.room_id : c.sender) === value);
      const total = of.reduce((n, c) => n + c.total, 0);
      const remaining = of.reduce((n, c) => n + c.after, 0) - g.results.length;
      groups[key][value] = {
        results: g.results,
        order: g.order,
        count: total,
        ...(remaining > 0 ? { next_batch: encodeSearchToken(cursorAt(g.last, { key, value })) } : {}),
      };
    }
  }
  return groups;
}
