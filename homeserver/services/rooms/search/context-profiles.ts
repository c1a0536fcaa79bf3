import type { Queryable } from '../../../storage/db.js';
import type { EventStore } from '../event-store.js';

export type Profiles = Record<string, { displayname?: string; avatar_url?: string }>;

/** Whose profiles one context shows, and as of which stream position. */
export interface ProfileQuery {
  roomId: string;
  position: number;
  senders: Set<string>;
}

/**
 * `profile_info` of several search contexts: each sender's m.room.member event in force at the
 * context's position (the state /context shows, EventStore.stateAt, narrowed to these members),
 * all contexts in one statement. Backfilled history (negative positions) has no state of its own
 * (see RoomReads.context): it is shown with the room's current members.
 */
export async function contextProfiles(db: Queryable, store: EventStore, queries: ProfileQuery[]): Promise<Profiles[]> {
  const members: { i: number; json: string; redacted_by: string | null }[] = [];
  const live = queries.flatMap((q, i) => (q.position < 0 ? [] : [...q.senders].map((userId) => ({ i, q, userId }))));
  if (live.length) {
    const { rows } = await db.query<{ i: number; json: string; redacted_by: string | null }>(
      `SELECT k.i, e.json, e.redacted_by
       FROM unnest($1::int[], $2::text[], $3::bigint[], $4::text[]) AS k(i, room_id, pos, user_id)
       CROSS JOIN LATERAL (
         SELECT m.event_id FROM hs_events m
         WHERE m.room_id = k.room_id AND m.type = 'm.room.member' AND m.state_key = k.user_id AND m.stream_ordering <= k.pos
         ORDER BY m.stream_ordering DESC LIMIT 1) s
       JOIN hs_events e ON e.event_id = s.event_id
       ORDER BY k.i, e.stream_ordering`,
      [live.map((m) => m.i), live.map((m) => m.q.roomId), live.map((m) => m.q.position), live.map((m) => m.userId)],
    );
    members.push(...rows);
  }
  const current = new Map<string, Awaited<ReturnType<EventStore['currentState']>>>();
  for (const [i, q] of queries.entries()) {
    if (q.position >= 0) continue;
    if (!current.has(q.roomId)) current.set(q.roomId, await store.currentState(q.roomId, 'm.room.member'));
    members.push(...current.get(q.roomId)!.map((r) => ({ i, json: r.json, redacted_by: r.redacted_by })));
  }

  const profiles = queries.map((): Profiles => ({}));
  for (const row of members) {
    const e = JSON.parse(row.json) as { type: string; state_key?: string; content: Record<string, unknown> };
    // A redacted member event shows no profile (its content is gone), not an older one.
    if (e.type !== 'm.room.member' || !e.state_key || !queries[row.i]!.senders.has(e.state_key) || row.redacted_by) continue;
    const { displayname, avatar_url } = e.content;
    profiles[row.i]![e.state_key] = {
      ...(typeof displayname === 'string' ? { displayname } : {}),
      ...(typeof avatar_url === 'string' && avatar_url.startsWith('mxc://') ? { avatar_url } : {}),
    };
  }
  return profiles;
}
