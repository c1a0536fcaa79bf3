import { MatrixError } from '../../../matrix/errors.js';

export type SearchOrder = 'rank' | 'recent';
export type GroupKey = 'room_id' | 'sender';

/**
 * Where a search page ends (keyset pagination): the last result's rank and stream position, and,
 * for a group's own `next_batch`, the group the following pages stay in. Opaque to clients
 * (base64url JSON); anything that does not decode to exactly this shape is M_INVALID_PARAM.
 */
export interface SearchCursor {
  order: SearchOrder;
  /** ts_rank_cd of the last result (a float4, exact through its shortest decimal form); rank order only. */
  rank?: number;
  position: number;
  group?: { key: GroupKey; value: string };
}

export function encodeSearchToken(c: SearchCursor): string {
  const wire = { o: c.order, p: c.position, r: c.rank, gk: c.group?.key, gv: c.group?.value };
  return Buffer.from(JSON.stringify(wire)).toString('base64url');
}

export function decodeSearchToken(token: string): SearchCursor {
  const bad = () => MatrixError.invalidParam('Invalid next_batch token');
  if (token.length > 2048 || !/^[A-Za-z0-9_-]+$/.test(token)) throw bad();
  let wire: Record<string, unknown>;
  try {
    wire = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    throw bad();
  }
  if (!wire || typeof wire !== 'object' || Array.isArray(wire)) throw bad();
  const { o, p, r, gk, gv } = wire;
  if ((o !== 'rank' && o !== 'recent') || !Number.isSafeInteger(p)) throw bad();
  if (o === 'rank' ? typeof r !== 'number' || !Number.isFinite(r) : r !== undefined) throw bad();
  if (gk !== undefined && ((gk !== 'room_id' && gk !== 'sender') || typeof gv !== 'string')) throw bad();
  if (gk === undefined && gv !== undefined) throw bad();
  return {
    order: o,
    position: p as number,
    ...(o === 'rank' ? { rank: r as number } : {}),
    ...(gk ? { group: { key: gk, value: gv as string } } : {}),
  };
}
