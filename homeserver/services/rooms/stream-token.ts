import { MatrixError } from '../../matrix/errors.js';

/** Pagination tokens are stream positions: `s<position>`, opaque to clients. */
export const streamToken = (position: number) => `s${position}`;

export function parseStreamToken(token: string): number {
  const m = /^s(\d{1,15})$/.exec(token);
  if (!m) throw MatrixError.invalidParam(`Invalid pagination token ${JSON.stringify(token).slice(0, 40)}`);
  return Number(m[1]);
}
