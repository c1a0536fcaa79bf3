import type { Db } from '../../storage/db.js';
import type { Pdu } from '../../matrix/pdu.js';
import type { Requester } from '../requester.js';
import { toClientEvent, type ClientEvent, type EventRow } from '../rooms/client-event.js';
import { matchesFilter } from '../rooms/room-reads.js';
import type { EventStore } from '../rooms/event-store.js';
import type { RoomStateCache } from '../rooms/room-state-cache.js';
import { VisibilityFilter } from '../rooms/history-visibility.js';
import { streamToken } from '../rooms/stream-token.js';
import type { Receipts } from '../ephemeral/receipts.js';
import type { Typing } from '../ephemeral/typing.js';
import type { SyncNotifier } from './notifier.js';
import type { E2eSync } from '../e2e/index.js';
import { RoomTimelines } from './room-timelines.js';
import { countNotifications, type NotificationDecider, type UnreadEvent } from './notification-counts.js';
import type { StreamSource } from './stream-source.js';
import { formatSyncToken, parseSyncToken, STREAM_NAMES, ZERO_POSITIONS, type StreamName, type SyncPositions } from './sync-token.js';
import { roomIncluded, timelineLimit, typeAllowed, type SyncFilter } from './sync-filter.js';

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
  /** The user's push rules as a decision function (loaded once per sync), for unread counts. */
  notificationDecider?: (userId: string) => Promise<NotificationDecider>;
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
 */
export class SyncService {
  private timelines: RoomTimelines;

  constructor(private deps: SyncDeps) {
    this.timelines = new RoomTimelines(deps.db);
  }

  async sync(requester: Requester, req: SyncRequest, signal?: AbortSignal): Promise<Record<string, unknown>> {
    const since = req.since !== undefined ? parseSyncToken(req.since) : undefined;
    const deadline = Date.now() + req.timeoutMs;
    for (;;) {
      const rooms = await this.memberships(requester.userId);
      const wake = new AbortController();
      const waiting = this.deps.notifier.wait(
        requester.userId,
        rooms.filter((m) => m.membership === 'join').map((m) => m.room_id),
        Math.max(0, deadline - Date.now()),
        anySignal(signal, wake.signal),
      );
      const response = await this.build(requester, since, req, rooms);
      const remaining = deadline - Date.now();
      if (!since || req.fullState || hasContent(response) || remaining <= 0 || signal?.aborted || this.deps.notifier.isStopped) {
        wake.abort();
        return response;
      }
      await waiting;
      if (Date.now() >= deadline || signal?.aborted) {
        // Timed out: a fresh response (empty or not) with the latest positions.
        return this.build(requester, since, req, await this.memberships(requester.userId));
      }
    }
  }

  async currentPositions(): Promise<SyncPositions> {
    const [events, typing, receipts] = await Promise.all([
      this.deps.store.maxStreamOrdering(),
      this.deps.typing.currentPosition(),
      this.deps.receipts.currentPosition(),
    ]);
    const out: SyncPositions = { ...ZERO_POSITIONS, events, typing, receipts };
    for (const name of STREAM_NAMES) {
      const source = (this.deps.streams as Record<string, StreamSource<unknown> | undefined>)[name];
      if (source) out[name] = await source.currentPosition();
    }
    return out;
  }

  private async memberships(userId: string): Promise<Membership[]> {
    const { rows } = await this.deps.db.query<Membership>(
      'SELECT room_id, membership, stream_ordering, forgotten FROM hs_memberships WHERE user_id = $1',
      [userId],
    );
    return rows;
  }

  private async build(requester: Requester, since: SyncPositions | undefined, req: SyncRequest, memberships: Membership[]) {
    const to = await this.currentPositions();
    const from = since ?? ZERO_POSITIONS;
    const full = !since || req.fullState;
    const filter = req.filter;
    const userId = requester.userId;
    const visible = memberships.filter((m) => roomIncluded(filter, m.room_id) && m.stream_ordering <= to.events);

    const joinedIds = visible.filter((m) => m.membership === 'join').map((m) => m.room_id);
    const newlyJoined = new Set(visible.filter((m) => m.membership === 'join' && m.stream_ordering > from.events).map((m) => m.room_id));
    // Streams that did not move since the token need no query at all.
    const [withEvents, typing, receipts] = await Promise.all([
      full
        ? Promise.resolve(new Set(joinedIds))
        : (this.deps.notifier.roomChanges.changedSince(joinedIds, from.events) ??
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
      if (requester.deviceId) Object.assign(response, await e2e.otkCounts(userId, requester.deviceId));
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
      .map((roomId) => ({ roomId, from: ctx.full || ctx.newlyJoined.has(roomId) ? 0 : from.events, to: to.events }));
    const [timelines, currentState] = await Promise.all([
      this.timelines.latest(timelineRanges, limit),
      this.timelines.currentState(fullRooms),
    ]);
    const readUpTo = await this.deps.receipts.readUpTo(userId, roomIds);
    const unreadEvents = await this.timelines.unreadEvents(userId, readUpTo, roomIds);
    const decide = this.deps.notificationDecider ? await this.deps.notificationDecider(userId) : undefined;

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

    const out: Record<string, unknown> = {};
    for (const roomId of roomIds) {
      const t = prepared.get(roomId) ?? { events: [], limited: false };
      const timelineEvents = t.events.map((r) => toClientEvent(r, requester));
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
        unread_notifications: await this.unreadNotifications(userId, roomId, unreadEvents.get(roomId) ?? [], decide),
        summary: await this.summary(roomId, userId),
      };
    }
    return out;
  }

  private async unreadNotifications(userId: string, roomId: string, events: UnreadEvent[], decide: NotificationDecider | undefined) {
    const room = await this.deps.cache.get(roomId);
    if (!room || !decide || !events.length) return { notification_count: 0, highlight_count: 0 };
    return countNotifications(userId, room, events, decide);
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
    if (!room) return {};
    let joined = 0;
    let invited = 0;
    const heroes: string[] = [];
    for (const { pdu } of room.state.values()) {
      if (pdu.type !== 'm.room.member') continue;
      const m = pdu.content.membership;
      if (m === 'join') joined++;
      if (m === 'invite') invited++;
      if ((m === 'join' || m === 'invite') && pdu.state_key !== userId) heroes.push(pdu.state_key!);
    }
    return { 'm.heroes': heroes.sort().slice(0, 5), 'm.joined_member_count': joined, 'm.invited_member_count': invited };
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
      left.map((m) => ({ roomId: m.room_id, from: full ? 0 : from.events, to: Math.min(m.stream_ordering, to.events) })),
      limit,
    );
    for (const m of left) {
      const rows = timelines.get(m.room_id) ?? [];
      const events = (await this.visibleTo(requester.userId, m.room_id, rows.slice(0, limit).reverse())).map((r) =>
        toClientEvent(r, requester),
      );
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
    return out;
  }
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

function anySignal(...signals: (AbortSignal | undefined)[]): AbortSignal {
  const controller = new AbortController();
  for (const s of signals) {
    if (!s) continue;
    if (s.aborted) controller.abort();
    else s.addEventListener('abort', () => controller.abort(), { once: true });
  }
  return controller.signal;
}
