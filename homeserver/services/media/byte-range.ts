/** An inclusive byte range of a file (`Content-Range: bytes start-end/size`). */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * What to answer to a `Range` request header (RFC 9110 §14) for a body of `size` bytes:
 * - `full`: no header, a unit other than bytes, a malformed value or several ranges — answer 200
 *   with the whole body (RFC 9110 lets a server ignore Range; multipart/byteranges is not worth it).
 * - `partial`: exactly one satisfiable range (`a-b`, `a-`, `-n`), clamped to the body — 206.
 * - `unsatisfiable`: one well-formed range that starts past the end (or `-0`) — 416.
 */
export type RangeDecision = { kind: 'full' } | { kind: 'partial'; range: ByteRange } | { kind: 'unsatisfiable' };

const SINGLE = /^bytes=\s*(\d*)\s*-\s*(\d*)\s*$/i;

export function decideRange(header: string | undefined, size: number): RangeDecision {
  if (!header) return { kind: 'full' };
  const m = SINGLE.exec(header);
  if (!m) return { kind: 'full' }; // includes multiple ranges ("bytes=0-1,5-6")
  const [, first, last] = m as unknown as [string, string, string];
  if (first === '' && last === '') return { kind: 'full' };
  if (first === '') {
    // Suffix range: the last n bytes.
    const n = Number(last);
    if (!Number.isSafeInteger(n)) return { kind: 'full' };
    if (n === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', range: { start: Math.max(0, size - n), end: size - 1 } };
  }
  const start = Number(first);
  const end = last === '' ? Number.MAX_SAFE_INTEGER : Number(last);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) return { kind: 'full' };
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'partial', range: { start, end: Math.min(end, size - 1) } };
}
