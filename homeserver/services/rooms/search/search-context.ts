import type { Requester } from '../../requester.js';
import type { ClientEvent } from '../client-event.js';
import type { RoomReads } from '../room-reads.js';
import type { EventStore } from '../event-store.js';
import { streamToken } from '../stream-token.js';

export interface SearchContextOptions {
  before: number;
  after: number;
  includeProfile: boolean;
}

/**
 * `context` of one search result: the events around it read through /messages itself (so exactly
 * what the user could page to), and optionally the senders' profiles as of the last event shown.
 */
export async function searchResultContext(
  reads: RoomReads,
  store: EventStore,
  requester: Requester,
  hit: { room_id: string; stream_ordering: number },
  result: ClientEvent,
  opts: SearchContextOptions,
) {
  const [before, after] = await Promise.all([
    reads.messages(requester, hit.room_id, { from: streamToken(hit.stream_ordering - 1), dir: 'b', limit: opts.before }),
    reads.messages(requester, hit.room_id, { from: streamToken(hit.stream_ordering), dir: 'f', limit: opts.after }),
  ]);
  const eventsBefore = before.chunk as ClientEvent[];
  const eventsAfter = after.chunk as ClientEvent[];
  const context: Record<string, unknown> = {
    start: (before.end as string | undefined) ?? streamToken(hit.stream_ordering - 1),
    end: (after.end as string | undefined) ?? streamToken(hit.stream_ordering),
    events_before: eventsBefore,
    events_after: eventsAfter,
  };
  if (opts.includeProfile) {
    const senders = new Set([...eventsBefore, result, ...eventsAfter].map((e) => e.sender));
    const last = eventsAfter.length ? await store.getEvent(eventsAfter[eventsAfter.length - 1]!.event_id) : undefined;
    const position = last?.stream_ordering ?? hit.stream_ordering;
    // Backfilled history (negative positions) has no state of its own (see RoomReads.context).
    const rows = position < 0 ? await store.currentState(hit.room_id, 'm.room.member') : await store.stateAt(hit.room_id, position);
    const profiles: Record<string, { displayname?: string; avatar_url?: string }> = {};
    for (const row of rows) {
      const e = JSON.parse(row.json) as { type: string; state_key?: string; content: Record<string, unknown> };
      if (e.type !== 'm.room.member' || !e.state_key || !senders.has(e.state_key) || row.redacted_by) continue;
      const { displayname, avatar_url } = e.content;
      profiles[e.state_key] = {
        ...(typeof displayname === 'string' ? { displayname } : {}),
        ...(typeof avatar_url === 'string' && avatar_url.startsWith('mxc://') ? { avatar_url } : {}),
      };
    }
    context.profile_info = profiles;
  }
  return context;
}
