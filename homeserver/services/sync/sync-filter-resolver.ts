import { MatrixError } from '../../matrix/errors.js';
import { parseSyncFilter, type SyncFilter } from './sync-filter.js';

/** Reads a stored filter: its JSON, or undefined for an unknown id or another user's filter. */
export type FilterLookup = (userId: string, filterId: string) => Promise<unknown | undefined>;

const LIMIT = 10_000;

/**
 * The `filter` parameter of /sync, resolved and validated once per distinct filter. Clients send
 * the same filter on every request (Element, Hydrogen and matrix-js-sdk a stored filter id, bots
 * often inline JSON), and a stored filter never changes (a new definition gets a new id), so the
 * parsed filter is kept: by user and id for stored filters, by text for inline ones. Each /sync
 * request used to query hs_filters (or parse the JSON) before it could even start waiting.
 * Cached filters are frozen: every response of every user with that filter reads the same object.
 */
export class SyncFilterResolver {
  private stored = new Map<string, SyncFilter>();
  private inline = new Map<string, SyncFilter>();

  constructor(private readonly lookup: () => FilterLookup | undefined) {}

  async resolve(userId: string, raw: string | undefined): Promise<SyncFilter | undefined> {
    if (raw === undefined || raw === '') return undefined;
    if (raw.trimStart().startsWith('{')) return this.inline.get(raw) ?? remember(this.inline, raw, parseInline(raw));
    const key = `${userId}\u0000${raw}`;
    const hit = this.stored.get(key);
    if (hit) return hit;
    const lookup = this.lookup();
    const stored = lookup ? await lookup(userId, raw) : undefined;
    if (stored === undefined) throw MatrixError.invalidParam(`Unknown filter ${raw.slice(0, 40)}`);
    return remember(this.stored, key, parseSyncFilter(stored));
  }
}

function parseInline(raw: string): SyncFilter {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw MatrixError.invalidParam('filter is not valid JSON');
  }
  return parseSyncFilter(value);
}

function remember(cache: Map<string, SyncFilter>, key: string, filter: SyncFilter): SyncFilter {
  deepFreeze(filter);
  if (cache.size >= LIMIT) cache.delete(cache.keys().next().value!);
  cache.set(key, filter);
  return filter;
}

function deepFreeze(value: unknown): void {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return;
  Object.freeze(value);
  for (const v of Object.values(value)) deepFreeze(v);
}
