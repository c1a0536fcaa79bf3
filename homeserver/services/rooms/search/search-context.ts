import type { Queryable } from '../../../storage/db.js';
import type { Requester } from '../../requester.js';
import { bundleAggregations } from '../bundled-aggregations.js';
import { toClientEvent, type ClientEvent } from '../client-event.js';
import type { EventStore } from '../event-store.js';
import { streamToken } from '../stream-token.js';
import { contextProfiles } from './context-profiles.js';
import { contextWindows } from './context-windows.js';
import type { ReadableRange } from './visible-ranges.js';

export interface SearchContextOptions {
  before: number;
  after: number;
  includeProfile: boolean;
}

/**
 * `context` of every result of a search page, with statements per room rather than per hit (one
 * per room for the events around its hits, one per distinct cutoff for their bundled aggregations,
 * one for all profiles) instead of two /messages calls per hit. The answer is what those calls
 * gave: the visible events /messages pages to from the hit's position, bundled as it bundles them,
 * and its tokens: `start`/`end` continue past the context when it is full (where /messages' `end`
 * would point) and sit at the hit otherwise. Optionally the senders' profiles as of the last event
 * shown.
 */
export async function searchResultContexts(
  deps: { db: Queryable; store: EventStore },
  requester: Requester,
  hits: { room_id: string; stream_ordering: number; sender: string }[],
  readable: ReadableRange[],
  opts: SearchContextOptions,
): Promise<Record<string, unknown>[]> {
  const windows = await contextWindows(deps.db, hits, readable, opts);
  const now = Date.now();
  const events = windows.map((w) => ({
    before: w.before.map((r) => toClientEvent(r, requester, now)),
    after: w.after.map((r) => toClientEvent(r, requester, now)),
  }));
  await bundleByCutoff(deps.db, requester, hits, events, readable);

  const contexts = hits.map((hit, i): Record<string, unknown> => {
    const { before, after } = windows[i]!;
    const lastBefore = before.length === opts.before ? before[before.length - 1] : undefined;
    const lastAfter = after.length === opts.after ? after[after.length - 1] : undefined;
    return {
      start: streamToken(lastBefore ? lastBefore.stream_ordering - 1 : hit.stream_ordering - 1),
      end: streamToken(lastAfter ? lastAfter.stream_ordering : hit.stream_ordering),
      events_before: events[i]!.before,
      events_after: events[i]!.after,
    };
  });
  if (opts.includeProfile) {
    const profiles = await contextProfiles(
      deps.db,
      deps.store,
      hits.map((hit, i) => ({
        roomId: hit.room_id,
        position: windows[i]!.after.at(-1)?.stream_ordering ?? hit.stream_ordering,
        senders: new Set([...events[i]!.before, hit, ...events[i]!.after].map((e) => e.sender)),
      })),
    );
    contexts.forEach((c, i) => (c.profile_info = profiles[i]));
  }
  return contexts;
}

/** Bundled aggregations up to each room's cutoff (RoomReads.messages), one statement per distinct cutoff. */
async function bundleByCutoff(
  db: Queryable,
  requester: Requester,
  hits: { room_id: string }[],
  events: { before: ClientEvent[]; after: ClientEvent[] }[],
  readable: ReadableRange[],
): Promise<void> {
  const cutoffOf = new Map(readable.map((r) => [r.roomId, r.cutoff]));
  const byCutoff = new Map<number, ClientEvent[]>();
  hits.forEach((hit, i) => {
    const cutoff = cutoffOf.get(hit.room_id)!;
    const list = byCutoff.get(cutoff) ?? [];
    list.push(...events[i]!.before, ...events[i]!.after);
    byCutoff.set(cutoff, list);
  });
  for (const [cutoff, list] of byCutoff) await bundleAggregations(db, list, requester, cutoff);
}
