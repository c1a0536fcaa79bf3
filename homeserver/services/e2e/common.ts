import { MatrixError } from '../../matrix/errors.js';
import type { Queryable, Tx } from '../../storage/db.js';

/** Identifiers end up in primary keys: bounded (btree rows have a size limit) and NUL-free (TEXT cannot hold NUL). */
export const MAX_ID_LENGTH = 255;

/** Rejects what Postgres TEXT or a btree index would refuse with an internal error. */
export function checkId(value: string, what: string): string {
  if (typeof value !== 'string' || value.length === 0) throw MatrixError.invalidParam(`${what} must be a non-empty string`);
  if (value.length > MAX_ID_LENGTH) throw MatrixError.invalidParam(`${what} is too long`);
  if (value.includes('\u0000')) throw MatrixError.invalidParam(`${what} contains NUL`);
  return value;
}

/** A syntactically plausible user id: `@localpart:server`, bounded and NUL-free. */
export function isUserId(value: string): boolean {
  return (
    typeof value === 'string' &&
    value.startsWith('@') &&
    value.indexOf(':') > 1 &&
    value.length <= MAX_ID_LENGTH &&
    !value.includes('\u0000')
  );
}

/** The E2E endpoints' own errcodes (statuses as the spec gives them, passed explicitly). */
export type E2eErrCode = 'M_INVALID_SIGNATURE' | 'M_WRONG_ROOM_KEYS_VERSION';

export function e2eError(errcode: E2eErrCode, message: string, status: number, extra: Record<string, unknown> = {}): MatrixError {
  return new MatrixError(errcode, message, status, extra);
}

export type E2eStream = 'to_device' | 'device_lists';

/**
 * Takes the stream's head row lock. Positions (BIGSERIAL) allocated after this call commit in
 * order, so readers bounded by the head never miss a row that commits later. Must be the LAST lock
 * a transaction takes (after any row it inserts with a foreign key to hs_devices), so it can never
 * be part of a lock cycle with device deletion.
 */
export async function lockStreamHead(tx: Tx, stream: E2eStream): Promise<void> {
  await tx.query('SELECT position FROM hs_e2e_stream_heads WHERE stream = $1 FOR UPDATE', [stream]);
}

export async function advanceStreamHead(tx: Tx, stream: E2eStream, position: number): Promise<void> {
  await tx.query('UPDATE hs_e2e_stream_heads SET position = GREATEST(position, $2) WHERE stream = $1', [stream, position]);
}

/** The highest position whose rows are all committed. */
export async function streamHead(q: Queryable, stream: E2eStream): Promise<number> {
  const { rows } = await q.query<{ position: number }>('SELECT position FROM hs_e2e_stream_heads WHERE stream = $1', [stream]);
  return rows[0]?.position ?? 0;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
