import { MatrixError } from '../../matrix/errors.js';

/**
 * Pagination tokens are stream positions: `s<position>`, opaque to clients. Positions below zero
 * are historical (backfilled) events, so a token may be negative (`s-17`): paging backwards walks
 * from the live positions into the historical ones, and forwards back again, without a seam.
 */
export const streamToken = (position: number) => `s${position}`;

/** A position before every event of every room: where forward pagination without `from` starts. */
export const BEFORE_ALL_EVENTS = Number.MIN_SAFE_INTEGER;

/** Also accepts a sync token (`s<events>_<typing>_...`, spec: /messages `from`): its room-events part. */
export function parseStreamToken(token: string): number {
  const m = /^s(-?\d{1,16})(?:_\d{1,16})*$/.exec(token);
  const n = m ? Number(m[1]) : NaN;
  if (!Number.isSafeInteger(n)) throw MatrixError.invalidParam(`Invalid pagination token ${JSON.stringify(token).slice(0, 40)}`);
  return n === 0 ? 0 : n; // never -0
}
