import type { Db } from '../../storage/db.js';
import type { Pdu } from '../../matrix/pdu.js';
import type { Requester } from '../requester.js';
import { toClientEvent, type ClientEvent, type EventRow } from '../rooms/client-event.js';
import { matchesFilter } from '../rooms/room-reads.js';
import type { EventStore } from '../rooms/event-store.js';
import type { RoomStateCache } from '../rooms/room-state-cache.js';
import { VisibilityFilter } from '../rooms/history-visibility.js';
import { BEFORE_ALL_EVENTS, streamToken } from '../rooms/stream-token.js';
import type { Receipts } from '../ephemeral/receipts.js';
import type { Typing } from '../ephemeral/typing.js';
import type { SyncNotifier } from './notifier.js';
import type { Cancellation } from './cancellation.js';
import type { E2eSync } from '../e2e/index.js';
import { RoomTimelines } from './room-timelines.js';
import { combined, UnreadCounter, UNREAD_CAP, type NotificationDecider, type RoomCounts } from './notification-counts.js';
import { readFloor } from '../ephemeral/read-positions.js';
import type { StreamSource } from './stream-source.js';
import { formatSyncToken, parseSyncToken, STREAM_NAMES, ZERO_POSITIONS, type StreamName, type SyncPositions } from './sync-token.js';
import { HINTED_STREAMS, type HintedStream } from './stream-hints.js';
import { RecentEvents } from './recent-events.js';
import type { OtkCounts } from '../e2e/index.js';
import type { RoomState } from '../rooms/room-state.js';
import { roomIncluded, timelineLimit, typeAllowed, type SyncFilter } from './sync-filter.js';
import { bundleAggregations } from '../rooms/bundled-aggregations.js';
import { mayHaveChildren } from './timeline-aggregations.js';
import { memberSummary } from './member-summary.js';

export interface SyncRequest {
  since?: string;
  timeoutMs: number;
  fullState: boolean;
  filter?: SyncFilter;
}

/** Sources of the per-user streams, wired by whoever implements them (e2e, user data). */
export type ExternalStreams = Partial<Record<Exclude<StreamName, 'events' | 'typing' | 'receipts'>, StreamSource<any>>>;

export interface SyncDeps {
  db: Db;
  store: EventStore;
  cache: RoomStateCache;
  receipts: Receipts;
  typing: Typing;
  notifier: SyncNotifier;
  streams: ExternalStreams;
  /** End-to-end encryption's sync parts (to-device, device lists, key counts), when wired. */
  e2e?: E2eSync;
  /** The user's push rules as a decision function, for unread counts (cached until their account data moves). */
  notificationDecider?: (userId: string) => Promise<NotificationDecider>;
  /** Key counts for a device; defaults to `e2e.otkCounts` (services wire a batching loader). */
  otkCounts?: (userId: string, deviceId: string) => Promise<OtkCounts>;
}

interface Membership {
  room_id: string;
  membership: string;
  stream_ordering: number;
  forgotten: boolean;
}

const STRIPPED_STATE_TYPES = [
  'm.room.create',
  'm.room.join_rules',
  'm.room.name',
  'm.room.avatar',
  'm.room.canonical_alias',
  'm.room.encryption',
  'm.room.topic',
];

/**
 * `GET /sync` (spec: "Syncing"). One response is built against a fixed set of stream positions
 * read at its start (`to`), so everything it contains is consistent, and its next_batch is exactly
 * those positions. An incremental sync with nothing new waits on the notifier (registered before
 * the first look, so nothing committed in between is missed) until something relevant happens or
 * the timeout ends.
 *
 * Incremental syncs are served from memory where the notifier can prove it knows enough (see
 * `positionsFromMemory`): positions, changed rooms, memberships, recent timelines, unread counts
 * and push rules need no query in the steady state. Initial, full-state and timed-out syncs read
 * every position from Postgres, which also catches up on any wake-up this process missed.
 */
export class SyncService {
  private timelines: RoomTimelines;
  /** Recent events of active rooms (fed by this process's commits through `committed`). */
  readonly recent: RecentEvents;
  private unread: UnreadCounter;
  private memberCache = new Map<string, Membership[]>();
  private memberGen = new Map<string, number>();
  private deciders = new Map<string, { decide: NotificationDecider; version: number }>();
  /** Timeline reads in flight, by room: concurrent misses of the same room wait for them. */
  private pendingReads = new Map<string, { to: number; done: Promise<void> }>();

  constructor(private deps: SyncDeps) {
    this.timelines = new RoomTimelines(deps.db);
    this.recent = new RecentEvents(deps.notifier);
    this.unread = new UnreadCounter(this.recent);
    deps.notifier.onMembershipChange((users) => {
      for (const u of users) {
        this.memberCache.delete(u);
        this.memberGen.set(u, (this.memberGen.get(u) ?? 0) + 1);
      }
    });
  }

  /** For the notifier's start: every position, and a reader of missed room events. */
  notifierStartOptions(onError?: (err: unknown) => void) {
    return {
      positions: () => this.currentPositions(),
      eventsBetween: (after: number, upTo: number) => this.timelines.eventsBetween(after, upTo),
      onError,
    };
  }

  async sync(requester: Requester, req: SyncRequest, cancellation?: Cancellation): Promise<Record<string, unknown>> {
    const since = req.since !== undefined ? parseSyncToken(req.since) : undefined;
    const deadline = Date.now() + req.timeoutMs;
    for (let woken = false; ; woken = true) {
      // Key counts go in every returned response. A long-poll's first look usually finds nothing
      // (the client just synced), so only a woken, initial or full-state sync reads them in
      // parallel with the build; otherwise they are read once the response is known to go out.
      const eager = woken || !since || req.fullState ? this.keyCounts(requester) : undefined;
      eager?.catch(() => {}); // awaited below or dropped; never an unhandled rejection
      const rooms = await this.memberships(requester.userId, since !== undefined && !req.fullState);
      const waiting = this.deps.notifier.wait(requester.userId, joinedRoomIds(rooms), Math.max(0, deadline - Date.now()), cancellation);
      const response = await this.build(requester, since, req, rooms, false);
      const remaining = deadline - Date.now();
      if (!since || req.fullState || hasContent(response) || remaining <= 0 || cancellation?.aborted || this.deps.notifier.isStopped) {
        waiting.cancel();
        return this.withKeyCounts(response, eager ?? this.keyCounts(requester));
      }
      await waiting.done;
      if (Date.now() >= deadline || cancellation?.aborted) {
        // Timed out: a fresh response (empty or not) with the latest positions.
        this.deciders.delete(requester.userId); // re-read: bounds the life of a missed wake-up
        const response = await this.build(requester, since, req, await this.memberships(requester.userId, false), true);
        return this.withKeyCounts(response, this.keyCounts(requester));
      }
    }
  }

  async currentPositions(): Promise<SyncPositions> {
    const out: SyncPositions = { ...ZERO_POSITIONS };
    await Promise.all(STREAM_NAMES.map(async (name) => (out[name] = await this.positionOf(name))));
    return out;
  }

  private positionOf(name: StreamName): Promise<number> {
    if (name === 'events') return this.deps.store.maxStreamOrdering();
    if (name === 'typing') return this.deps.typing.currentPosition();
    if (name === 'receipts') return this.deps.receipts.currentPosition();
    const source = (this.deps.streams as Record<string, StreamSource<unknown> | undefined>)[name];
    return source ? source.currentPosition() : Promise.resolve(0);
  }

  /**
   * The positions of an incremental sync without queries: room events up to the notifier's
   * proven-complete position, and for every other stream either `from` (nothing heard for this
   * user or their rooms since) or the latest heard position. A stream whose `from` predates what
   * this process heard (after a restart) is read from Postgres once.
   */
  private async positionsFromMemory(userId: string, joined: string[], from: SyncPositions): Promise<SyncPositions> {
    const notifier = this.deps.notifier;
    const to: SyncPositions = { ...from, events: Math.max(from.events, notifier.eventsPosition) };
    const unknown: HintedStream[] = [];
    for (const name of HINTED_STREAMS) {
      const p = notifier.hints.positionFor(name, userId, joined, from[name]);
      if (p === undefined) unknown.push(name);
      else to[name] = p;
    }
    if (unknown.length) await Promise.all(unknown.map(async (name) => (to[name] = await this.positionOf(name))));
    return to;
  }

  /** Cached for incremental syncs (dropped by the notifier when a batch changes the user's membership). */
  private async memberships(userId: string, cached: boolean): Promise<Membership[]> {
    const ready = this.deps.notifier.eventsPosition >= 0 && !this.deps.notifier.isStopped;
    const hit = cached && ready ? this.memberCache.get(userId) : undefined;
    if (hit) return hit;
    const gen = this.memberGen.get(userId);
    const { rows } = await this.deps.db.query<Membership>(
      'SELECT room_id, membership, stream_ordering, forgotten FROM hs_memberships WHERE user_id = $1',
      [userId],
    );
    if (ready && this.memberGen.get(userId) === gen) {
      this.memberCache.delete(userId);
      this.memberCache.set(userId, rows);
      while (this.memberCache.size > 50_000) this.memberCache.delete(this.memberCache.keys().next().value!);
    }
    return rows;
  }

  /** The user's push rules as a decision function, kept until their account data moves (push rules are mirrored there). */
  private async decider(userId: string): Promise<NotificationDecider | undefined> {
    const load = this.deps.notificationDecider;
    if (!load) return undefined;
    const hints = this.deps.notifier.hints;
    const version = hints.accountDataVersion(userId);
    const hit = this.deciders.get(userId);
    if (hit && hit.version === version && hints.isStarted) return hit.decide;
    const decide = await load(userId);
    if (hints.isStarted && hints.accountDataVersion(userId) === version) {
      this.deciders.delete(userId);
      this.deciders.set(userId, { decide, version });
      while (this.deciders.size > 50_000) this.deciders.delete(this.deciders.keys().next().value!);
    }
    return decide;
  }

  private async build(requester: Requester, since: SyncPositions | undefined, req: SyncRequest, memberships: Membership[], slow: boolean) {
    const from = since ?? ZERO_POSITIONS;
    const full = !since || req.fullState;
    const filter = req.filter;
    const userId = requester.userId;
    const notifier = this.deps.notifier;
    // A membership newer than the notifier's position (its notification is still on the way) would
    // fall outside `to` and hide its room from this response: then read every position instead.
    const fromMemory =
      !full &&
      !slow &&
      notifier.eventsPosition >= 0 &&
      !notifier.isStopped &&
      memberships.every((m) => m.stream_ordering <= Math.max(from.events, notifier.eventsPosition));
    const to = fromMemory ? await this.positionsFromMemory(userId, joinedRoomIds(memberships), from) : await this.currentPositions();
    if (!fromMemory) notifier.catchUp(to.events);
    const visible = memberships.filter((m) => roomIncluded(filter, m.room_id) && m.stream_ordering <= to.events);

    const joinedIds = visible.filter((m) => m.membership === 'join').map((m) => m.room_id);
    const newlyJoined = new Set(visible.filter((m) => m.membership === 'join' && m.stream_ordering > from.events).map((m) => m.room_id));
    // Streams that did not move since the token need no query at all.
    const [withEvents, typing, receipts] = await Promise.all([
      full
        ? Promise.resolve(new Set(joinedIds))
        : ((to.events <= notifier.eventsPosition ? notifier.roomChanges.changedSince(joinedIds, from.events) : undefined) ??
          this.timelines.roomsWithEvents(joinedIds, from.events, to.events)),
      from.typing === to.typing ? new Map<string, string[]>() : this.deps.typing.changedRooms(joinedIds, from.typing, to.typing),
      from.receipts === to.receipts
        ? new Map<string, Record<string, unknown>>()
        : this.deps.receipts.changedRooms(userId, joinedIds, from.receipts, to.receipts),
    ]);
    const accountData = await this.section('account_data', requester, from, to, joinedIds);

    const roomAccountData = (accountData as { rooms?: Record<string, ClientEvent[]> } | undefined)?.rooms ?? {};
    const candidates = joinedIds.filter(
      (r) => full || withEvents.has(r) || newlyJoined.has(r) || typing.has(r) || receipts.has(r) || roomAccountData[r],
    );
    const join = await this.joinedRooms(requester, candidates, {
      from,
      to,
      full,
      newlyJoined,
      withEvents,
      typing,
      receipts,
      roomAccountData,
      filter,
    });

    const invite: Record<string, unknown> = {};
    for (const m of visible.filter((v) => v.membership === 'invite' && (full || v.stream_ordering > from.events))) {
      invite[m.room_id] = { invite_state: { events: await this.strippedState(m.room_id, userId) } };
    }
    const leave = await this.leftRooms(requester, visible, from, to, full, filter);

    const response: Record<string, unknown> = { next_batch: formatSyncToken(to), rooms: { join, invite, leave, knock: {} } };
    const globalData = (accountData as { global?: ClientEvent[] } | undefined)?.global;
    response.account_data = { events: (globalData ?? []).filter((e) => typeAllowed(filter?.account_data, e.type)) };
    response.presence = (await this.section('presence', requester, from, to, joinedIds)) ?? { events: [] };
    const e2e = this.deps.e2e;
    if (e2e) {
      // At most a page of to-device messages per response; the token then stops at the last one
      // delivered, so the next sync continues there (and acknowledges, i.e. deletes, what came before).
      // Nothing new for any device since the token: no read (acknowledging waits for the next one).
      if (from.to_device === to.to_device && since) response.to_device = { events: [] };
      else {
        const toDevice = await e2e.toDevice.read(userId, requester.deviceId, from.to_device, to.to_device);
        response.to_device = toDevice.section ?? { events: [] };
        to.to_device = toDevice.position;
        response.next_batch = formatSyncToken(to);
      }
      // Device lists change with key uploads (their own stream) and with shared-room membership;
      // when neither moved, the answer is empty without a query.
      if (since) {
        const keysMoved = from.device_lists !== to.device_lists;
        response.device_lists =
          keysMoved || membershipMayHaveChanged(join, invite, leave, newlyJoined)
            ? await e2e.deviceListsSection(userId, from, to)
            : { changed: [], left: [] };
      }
    }
    return response;
  }

  private async section(name: keyof ExternalStreams, requester: Requester, from: SyncPositions, to: SyncPositions, joined: string[]) {
    const source = this.deps.streams[name];
    if (!source || (from[name] === to[name] && from !== ZERO_POSITIONS)) return undefined;
    // An initial sync gets the full current state of the stream (from = 0).
    return source.sectionFor(requester.userId, requester.deviceId, from[name], to[name], { joined });
  }

  private async joinedRooms(
    requester: Requester,
    roomIds: string[],
    ctx: {
      from: SyncPositions;
      to: SyncPositions;
      full: boolean;
      newlyJoined: Set<string>;
      withEvents: Set<string>;
      typing: Map<string, string[]>;
      receipts: Map<string, Record<string, unknown>>;
      roomAccountData: Record<string, ClientEvent[]>;
      filter?: SyncFilter;
    },
  ): Promise<Record<string, unknown>> {
    const { from, to, filter } = ctx;
    const userId = requester.userId;
    const limit = timelineLimit(filter);
    const fullRooms = roomIds.filter((r) => ctx.full || ctx.newlyJoined.has(r));
    const timelineRanges = roomIds
      .filter((r) => ctx.withEvents.has(r) || ctx.full || ctx.newlyJoined.has(r))
      .map((roomId) => ({ roomId, from: ctx.full || ctx.newlyJoined.has(roomId) ? BEFORE_ALL_EVENTS : from.events, to: to.events }));
    const [timelines, currentState, unreadCounts] = await Promise.all([
      this.latestTimelines(timelineRanges, limit),
      this.timelines.currentState(fullRooms),
      this.unreadCounts(userId, roomIds, to.events),
    ]);

    // Timelines: newest-first rows → oldest-first events, limited when more than `limit` exist.
    const prepared = new Map<string, { events: EventRow[]; limited: boolean }>();
    for (const { roomId } of timelineRanges) {
      const rows = timelines.get(roomId) ?? [];
      const limited = rows.length > limit;
      let events = rows.slice(0, limit).reverse();
      events = await this.visibleTo(userId, roomId, events);
      events = events.filter((r) => matchesFilter(r, filter?.room?.timeline));
      prepared.set(roomId, { events, limited });
    }
    // For incremental, limited timelines: the state that changed in the gap before the timeline.
    const gapRanges = [...prepared]
      .filter(([roomId, t]) => t.limited && !fullRooms.includes(roomId) && t.events.length)
      .map(([roomId, t]) => ({ roomId, from: from.events, to: t.events[0]!.stream_ordering }));
    const gaps = await this.timelines.stateChanges(gapRanges);
    // For full rooms: the state before the timeline = current state, with keys the timeline changed
    // rolled back to the event each first timeline change replaced.
    const replacedIds: string[] = [];
    for (const roomId of fullRooms) {
      for (const r of prepared.get(roomId)?.events ?? []) {
        const replaces = r.unsigned ? (JSON.parse(r.unsigned) as { replaces_state?: string }).replaces_state : undefined;
        if (replaces) replacedIds.push(replaces);
      }
    }
    const replaced = await this.timelines.eventsById(replacedIds);

    // Bundled aggregations: one query for every timeline of the response, none when no event can have children.
    const clientTimelines = new Map<string, ClientEvent[]>();
    const parents: ClientEvent[] = [];
    for (const [roomId, t] of prepared) {
      const events = t.events.map((r) => toClientEvent(r, requester));
      clientTimelines.set(roomId, events);
      parents.push(...mayHaveChildren(timelines.get(roomId) ?? [], t.limited, events));
    }
    if (parents.length) await bundleAggregations(this.deps.db, parents, requester, to.events);

    const threadedCounts = filter?.room?.timeline?.unread_thread_notifications === true;
    const out: Record<string, unknown> = {};
    for (const roomId of roomIds) {
      const t = prepared.get(roomId) ?? { events: [], limited: false };
      const timelineEvents = clientTimelines.get(roomId) ?? [];
      let state: ClientEvent[];
      if (fullRooms.includes(roomId)) state = this.stateBeforeTimeline(currentState.get(roomId) ?? [], t.events, replaced, requester);
      else state = (gaps.get(roomId) ?? []).map((r) => toClientEvent(r, requester));
      if (filter?.room?.state?.lazy_load_members) {
        const senders = new Set([userId, ...timelineEvents.map((e) => e.sender)]);
        state = state.filter((e) => e.type !== 'm.room.member' || senders.has(e.state_key!));
      }
      state = state.filter((e) => typeAllowed(filter?.room?.state, e.type));
      const prevBatch = t.events.length ? streamToken(t.events[0]!.stream_ordering - 1) : streamToken(to.events);
      const ephemeral: unknown[] = [];
      const typers = ctx.typing.get(roomId);
      if (typers) ephemeral.push({ type: 'm.typing', content: { user_ids: typers } });
      const receipt = ctx.receipts.get(roomId);
      if (receipt) ephemeral.push({ type: 'm.receipt', content: receipt });
      out[roomId] = {
        timeline: { events: timelineEvents, limited: t.limited, prev_batch: prevBatch },
        state: { events: state },
        ephemeral: { events: ephemeral.filter((e) => typeAllowed(filter?.room?.ephemeral, (e as { type: string }).type)) },
        account_data: { events: (ctx.roomAccountData[roomId] ?? []).filter((e) => typeAllowed(filter?.room?.account_data, e.type)) },
        ...unreadSections(unreadCounts.get(roomId), threadedCounts),
        summary: await this.summary(roomId, userId),
      };
    }
    return out;
  }

  /**
   * Timelines from the recent-events cache where it can prove completeness, the rest in one query
   * (which refills it). Syncs woken together by one event usually miss together (a room this
   * process has no entry for, or one another process wrote to): a miss whose room is already being
   * read up to the same position waits for that read and tries the cache again.
   */
  private async latestTimelines(ranges: { roomId: string; from: number; to: number }[], limit: number) {
    const out = new Map<string, EventRow[]>();
    const misses: typeof ranges = [];
    const waits: { range: (typeof ranges)[number]; done: Promise<void> }[] = [];
    for (const r of ranges) {
      const hit = this.recent.read(r.roomId, r.from, r.to, limit);
      const pending = hit ? undefined : this.pendingReads.get(r.roomId);
      if (hit) out.set(r.roomId, hit);
      else if (pending && pending.to >= r.to) waits.push({ range: r, done: pending.done });
      else misses.push(r);
    }
    const own = misses.length ? this.readTimelines(misses, limit, out) : undefined;
    if (waits.length) {
      await Promise.all(waits.map((w) => w.done));
      const again = waits
        .map((w) => w.range)
        .filter((r) => {
          const hit = this.recent.read(r.roomId, r.from, r.to, limit);
          if (hit) out.set(r.roomId, hit);
          return !hit;
        });
      if (again.length) await this.readTimelines(again, limit, out);
    }
    await own;
    return out;
  }

  private readTimelines(ranges: { roomId: string; from: number; to: number }[], limit: number, out: Map<string, EventRow[]>) {
    const done = this.timelines.latest(ranges, limit).then((read) => {
      for (const r of ranges) {
        const rows = read.get(r.roomId) ?? [];
        out.set(r.roomId, rows);
        this.recent.fill(r.roomId, r.from, r.to, rows, limit);
      }
    });
    const settled = done.catch(() => {});
    for (const r of ranges)
      if ((this.pendingReads.get(r.roomId)?.to ?? -1) < r.to) this.pendingReads.set(r.roomId, { to: r.to, done: settled });
    void settled.then(() => {
      for (const r of ranges) if (this.pendingReads.get(r.roomId)?.done === settled) this.pendingReads.delete(r.roomId);
    });
    return done;
  }

  /**
   * `unread_notifications` of each room at `to`: moved forward from the last count where the
   * cache can (see UnreadCounter), else read receipt and unread events from Postgres.
   */
  private async unreadCounts(userId: string, roomIds: string[], to: number) {
    const out = new Map<string, RoomCounts>();
    const decide = await this.decider(userId);
    if (!decide || !roomIds.length) return out;
    const hints = this.deps.notifier.hints;
    const receiptVersion = hints.isStarted ? hints.receiptVersion(userId) : 'unknown';
    const rooms = new Map<string, RoomState>();
    const misses: string[] = [];
    for (const roomId of roomIds) {
      const room = await this.deps.cache.get(roomId);
      if (!room) continue;
      rooms.set(roomId, room);
      const counted = hints.isStarted ? this.unread.advance(userId, roomId, to, receiptVersion, room, decide) : undefined;
      if (counted) out.set(roomId, counted);
      else misses.push(roomId);
    }
    if (!misses.length) return out;
    const reads = await this.deps.receipts.readPositions(userId, misses);
    const floors = new Map(misses.map((roomId) => [roomId, readFloor(reads.get(roomId))]));
    const unreadEvents = await this.timelines.unreadEvents(userId, floors, misses, to, UNREAD_CAP);
    for (const roomId of misses) {
      const version = hints.isStarted ? receiptVersion : `unknown-${Math.random()}`;
      const events = unreadEvents.get(roomId) ?? [];
      out.set(roomId, this.unread.compute(userId, roomId, to, version, rooms.get(roomId)!, decide, events, reads.get(roomId)));
    }
    return out;
  }

  /** One-time and fallback key counts of the requesting device (undefined without a device or e2e). */
  private keyCounts(requester: Requester): Promise<OtkCounts> | undefined {
    const { userId, deviceId } = requester;
    if (!deviceId || !this.deps.e2e) return undefined;
    return this.deps.otkCounts ? this.deps.otkCounts(userId, deviceId) : this.deps.e2e.otkCounts(userId, deviceId);
  }

  private async withKeyCounts(response: Record<string, unknown>, counts: Promise<OtkCounts> | undefined) {
    if (counts) Object.assign(response, await counts);
    return response;
  }

  private stateBeforeTimeline(
    current: EventRow[],
    timeline: EventRow[],
    replaced: Map<string, EventRow>,
    requester: Requester,
  ): ClientEvent[] {
    const key = (r: EventRow) => {
      const p = JSON.parse(r.json) as Pdu;
      return `${p.type}\u0000${p.state_key}`;
    };
    const byKey = new Map(current.map((r) => [key(r), r]));
    const seen = new Set<string>();
    for (const r of timeline) {
      const p = JSON.parse(r.json) as Pdu;
      if (p.state_key === undefined) continue;
      const k = key(r);
      if (seen.has(k)) continue;
      seen.add(k); // the first change of this key in the timeline decides what came before it
      const replacesId = r.unsigned ? (JSON.parse(r.unsigned) as { replaces_state?: string }).replaces_state : undefined;
      const before = replacesId ? replaced.get(replacesId) : undefined;
      if (before) byKey.set(k, before);
      else byKey.delete(k);
    }
    return [...byKey.values()].sort((a, b) => a.stream_ordering - b.stream_ordering).map((r) => toClientEvent(r, requester));
  }

  private async visibleTo(userId: string, roomId: string, events: EventRow[]): Promise<EventRow[]> {
    const room = await this.deps.cache.get(roomId);
    const visibility = room?.get('m.room.history_visibility', '')?.content.history_visibility;
    // Shared and world-readable history is visible to a member in full; only stricter settings need the per-event check.
    if (!events.length || visibility === undefined || visibility === 'shared' || visibility === 'world_readable') return events;
    const filter = new VisibilityFilter(await this.deps.store.visibilityTimeline(roomId, userId), room?.membershipOf(userId));
    return events.filter((e) => filter.canSee(e));
  }

  private async summary(roomId: string, userId: string): Promise<Record<string, unknown>> {
    const room = await this.deps.cache.get(roomId);
    return room ? memberSummary(room, userId) : {};
  }

  private async strippedState(roomId: string, userId: string): Promise<unknown[]> {
    const room = await this.deps.cache.get(roomId);
    if (!room) return [];
    const out: unknown[] = [];
    for (const type of STRIPPED_STATE_TYPES) {
      const e = room.get(type, '');
      if (e) out.push({ type, state_key: '', content: e.content, sender: e.sender });
    }
    const invite = room.get('m.room.member', userId);
    if (invite) out.push({ type: 'm.room.member', state_key: userId, content: invite.content, sender: invite.sender });
    const inviter = invite && room.get('m.room.member', invite.sender);
    if (inviter) out.push({ type: 'm.room.member', state_key: invite.sender, content: inviter.content, sender: inviter.sender });
    return out;
  }

  private async leftRooms(
    requester: Requester,
    visible: Membership[],
    from: SyncPositions,
    to: SyncPositions,
    full: boolean,
    filter?: SyncFilter,
  ) {
    const left = visible.filter(
      (m) =>
        (m.membership === 'leave' || m.membership === 'ban') &&
        !m.forgotten &&
        (full ? filter?.room?.include_leave === true : m.stream_ordering > from.events),
    );
    const out: Record<string, unknown> = {};
    if (!left.length) return out;
    const limit = timelineLimit(filter);
    const timelines = await this.timelines.latest(
      left.map((m) => ({ roomId: m.room_id, from: full ? BEFORE_ALL_EVENTS : from.events, to: Math.min(m.stream_ordering, to.events) })),
      limit,
    );
    const parents: ClientEvent[] = [];
    for (const m of left) {
      const rows = timelines.get(m.room_id) ?? [];
      const events = (await this.visibleTo(requester.userId, m.room_id, rows.slice(0, limit).reverse())).map((r) =>
        toClientEvent(r, requester),
      );
      parents.push(...mayHaveChildren(rows, rows.length > limit, events));
      out[m.room_id] = {
        timeline: {
          events,
          limited: rows.length > limit,
          prev_batch: streamToken(rows.length ? rows[Math.min(rows.length, limit) - 1]!.stream_ordering - 1 : m.stream_ordering),
        },
        state: { events: [] },
        account_data: { events: [] },
      };
    }
    // Nothing after a leave may show: with several left rooms, the earliest leave bounds them all (rare, and only ever hides).
    const upTo = Math.min(to.events, ...left.map((m) => m.stream_ordering));
    if (parents.length) await bundleAggregations(this.deps.db, parents, requester, upTo);
    return out;
  }
}

// Membership lists are cached per user and never modified (a change replaces the list), so the
// joined rooms a long-poll registers for and its response reads are derived once per list.
const joinedByList = new WeakMap<Membership[], string[]>();

function joinedRoomIds(memberships: Membership[]): string[] {
  let ids = joinedByList.get(memberships);
  if (!ids) joinedByList.set(memberships, (ids = memberships.filter((m) => m.membership === 'join').map((m) => m.room_id)));
  return ids;
}

/**
 * A joined room's count fields: everything in `unread_notifications`, or, when the filter asks for
 * `unread_thread_notifications`, the main timeline there and each thread with something to count
 * under its root's id (threads with nothing to count, and an empty object, are left out as the spec allows).
 */
function unreadSections(counts: RoomCounts | undefined, threaded: boolean): Record<string, unknown> {
  if (!counts) return { unread_notifications: { notification_count: 0, highlight_count: 0 } };
  if (!threaded) return { unread_notifications: combined(counts) };
  const threads = [...counts.threads].filter(([, c]) => c.notification_count > 0 || c.highlight_count > 0);
  return {
    unread_notifications: counts.main,
    ...(threads.length ? { unread_thread_notifications: Object.fromEntries(threads) } : {}),
  };
}

/** Whether a response may carry membership changes of rooms the user shares (which move device lists). */
function membershipMayHaveChanged(
  join: Record<string, unknown>,
  invite: Record<string, unknown>,
  leave: Record<string, unknown>,
  newlyJoined: Set<string>,
): boolean {
  if (Object.keys(invite).length || Object.keys(leave).length || newlyJoined.size) return true;
  for (const room of Object.values(join) as {
    timeline: { limited: boolean; events: { type: string }[] };
    state: { events: { type: string }[] };
  }[]) {
    if (room.timeline.limited) return true;
    if (room.timeline.events.some((e) => e.type === 'm.room.member') || room.state.events.some((e) => e.type === 'm.room.member'))
      return true;
  }
  return false;
}

function hasContent(r: Record<string, unknown>): boolean {
  const rooms = r.rooms as Record<string, Record<string, unknown>>;
  if (Object.keys(rooms.join!).length || Object.keys(rooms.invite!).length || Object.keys(rooms.leave!).length) return true;
  for (const key of ['account_data', 'presence', 'to_device'] as const)
    if (((r[key] as { events?: unknown[] } | undefined)?.events?.length ?? 0) > 0) return true;
  const dl = r.device_lists as { changed?: string[]; left?: string[] } | undefined;
  return Boolean(dl?.changed?.length || dl?.left?.length);
}
