import type { EventRow } from './client-event.js';

type Timeline = { position: number; type: string; content: Record<string, unknown> }[];

/**
 * Which events a user may see (spec: "History visibility"). For each event we take the room's
 * history_visibility and the user's membership as of that event, from one small timeline query
 * instead of a state lookup per event.
 *   world_readable: everyone; joined: events while joined; invited: also while invited;
 *   shared: also everything before, if the user is (or was, up to their leave) a member.
 */
export class VisibilityFilter {
  constructor(
    private timeline: Timeline,
    private currentMembership: string | undefined,
  ) {}

  canSee(row: EventRow): boolean {
    const pos = row.stream_ordering;
    let visibility = 'shared';
    let membership: string | undefined;
    for (const t of this.timeline) {
      if (t.position > pos) break;
      // The visibility that applies to an event is the one set before it (its own change applies after).
      if (t.type === 'm.room.history_visibility' && t.position < pos) visibility = String(t.content.history_visibility ?? 'shared');
      if (t.type === 'm.room.member') membership = String(t.content.membership);
    }
    if (visibility === 'world_readable') return true;
    if (membership === 'join') return true;
    // A user's own membership event is always visible to them.
    if (this.isOwnMembership(pos)) return true;
    if (visibility === 'invited' && membership === 'invite') return true;
    if (visibility === 'shared' && this.wasEverJoinedAfter(pos)) return true;
    return false;
  }

  /** The position after which a user that left or was banned sees nothing more. */
  get cutoff(): number {
    if (this.currentMembership === 'join' || this.currentMembership === 'invite') return Number.MAX_SAFE_INTEGER;
    const lastMember = [...this.timeline].reverse().find((t) => t.type === 'm.room.member');
    return lastMember?.position ?? 0;
  }

  private isOwnMembership(pos: number): boolean {
    return this.timeline.some((t) => t.position === pos && t.type === 'm.room.member');
  }

  private wasEverJoinedAfter(pos: number): boolean {
    return (
      this.currentMembership === 'join' ||
      this.timeline.some((t) => t.type === 'm.room.member' && t.content.membership === 'join' && t.position >= pos)
    );
  }
}
