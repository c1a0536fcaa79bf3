import type { EventRow } from '../client-event.js';
import { VisibilityFilter } from '../history-visibility.js';

export type Timeline = ConstructorParameters<typeof VisibilityFilter>[0];

/** An inclusive range of stream positions of one room whose events the user may see. */
export interface VisibleRange {
  lo: number;
  hi: number;
}

/** One visible range of a room the user may search, and where their view of the room ends. */
export interface ReadableRange {
  roomId: string;
  range: VisibleRange;
  /** VisibilityFilter.cutoff: /messages bundles no relation after it. */
  cutoff: number;
}

/**
 * The stream ranges of one room a user may read, derived from the very VisibilityFilter that
 * /messages applies, so search can put visibility into SQL (exact counts, keyset pagination)
 * without a second set of rules.
 *
 * canSee depends on a position only through comparisons with the timeline's positions (a
 * membership or history_visibility change), so it is constant on each timeline position and on
 * each open interval between two of them: asking it once per piece gives the whole answer.
 */
export function visibleRanges(timeline: Timeline, currentMembership: string | undefined): VisibleRange[] {
  const filter = new VisibilityFilter(timeline, currentMembership);
  const cutoff = filter.cutoff;
  const canSee = (pos: number) => filter.canSee({ stream_ordering: pos } as EventRow);
  const points = [...new Set(timeline.map((t) => t.position))].sort((a, b) => a - b);

  const pieces: VisibleRange[] = [];
  let lo = Number.MIN_SAFE_INTEGER;
  for (const p of points) {
    if (lo <= p - 1) pieces.push({ lo, hi: p - 1 });
    pieces.push({ lo: p, hi: p });
    lo = p + 1;
  }
  pieces.push({ lo, hi: Number.MAX_SAFE_INTEGER });

  const out: VisibleRange[] = [];
  for (const piece of pieces) {
    if (piece.lo > cutoff) break;
    const hi = Math.min(piece.hi, cutoff);
    // Any position of a piece answers for all of it; `hi` is always a real position.
    if (!canSee(hi)) continue;
    const last = out[out.length - 1];
    if (last && last.hi + 1 === piece.lo) last.hi = hi;
    else out.push({ lo: piece.lo, hi });
  }
  return out;
}
