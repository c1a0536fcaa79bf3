import { MatrixError } from '../../../matrix/errors.js';

/**
 * A /hierarchy `from` token: how many rooms of the walk earlier pages returned, and the walk's
 * parameters, which the spec forbids changing between pages. Stateless (the next page walks the
 * tree again and skips), so any process can continue any walk and nothing expires.
 */
export interface HierarchyCursor {
  root: string;
  suggestedOnly: boolean;
  maxDepth: number | null;
  offset: number;
}

export function encodeHierarchyToken(c: HierarchyCursor): string {
  return Buffer.from(JSON.stringify([c.root, c.suggestedOnly, c.maxDepth, c.offset])).toString('base64url');
}

export function decodeHierarchyToken(token: string): HierarchyCursor {
  const bad = () => MatrixError.invalidParam('Unknown pagination token');
  if (token.length > 1024 || !/^[A-Za-z0-9_-]+$/.test(token)) throw bad();
  let wire: unknown;
  try {
    wire = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw bad();
  }
  if (!Array.isArray(wire) || wire.length !== 4) throw bad();
  const [root, suggestedOnly, maxDepth, offset] = wire as unknown[];
  if (typeof root !== 'string' || typeof suggestedOnly !== 'boolean') throw bad();
  if (maxDepth !== null && (!Number.isSafeInteger(maxDepth) || (maxDepth as number) < 0)) throw bad();
  if (!Number.isSafeInteger(offset) || (offset as number) < 1) throw bad();
  return { root, suggestedOnly, maxDepth: maxDepth as number | null, offset: offset as number };
}
