import { MatrixHttpError } from '../matrix/cs-client.js';

/** Codes that are safe as a label value: short and upper-case, like M_FORBIDDEN or ECONNREFUSED. */
const CODE = /^[A-Z][A-Z0-9_]{1,47}$/;

/**
 * The `code` label of a delivery failure. It must come from a small fixed set (every label value
 * is a time series of its own), so error messages never become labels: a homeserver's errcode,
 * else its HTTP status, else a system error code (fetch's cause), else 'unknown'.
 */
export function failureCode(err: unknown): string {
  if (err instanceof MatrixHttpError) return err.errcode && CODE.test(err.errcode) ? err.errcode : `HTTP_${err.status}`;
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 3; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && CODE.test(code)) return code;
  }
  return 'unknown';
}
