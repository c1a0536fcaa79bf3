import { MatrixError } from '../../matrix/errors.js';
import type { EventFilter } from '../rooms/room-reads.js';

/** The parts of the spec's sync Filter that Causeway applies. */
export interface SyncFilter {
  event_fields?: string[];
  account_data?: { types?: string[]; not_types?: string[]; limit?: number };
  presence?: { types?: string[]; not_types?: string[]; limit?: number };
  room?: {
    rooms?: string[];
    not_rooms?: string[];
    include_leave?: boolean;
    timeline?: EventFilter & { rooms?: string[]; not_rooms?: string[]; unread_thread_notifications?: boolean };
    state?: EventFilter & { lazy_load_members?: boolean; include_redundant_members?: boolean };
    ephemeral?: { types?: string[]; not_types?: string[] };
    account_data?: { types?: string[]; not_types?: string[] };
  };
}

export const DEFAULT_TIMELINE_LIMIT = 10;
const MAX_TIMELINE_LIMIT = 500;

/** Validates a filter from the query string (inline JSON) or storage; M_INVALID_PARAM on nonsense. */
export function parseSyncFilter(value: unknown): SyncFilter {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw MatrixError.invalidParam('filter must be a JSON object');
  const f = value as SyncFilter;
  const limit = f.room?.timeline?.limit;
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 0))
    throw MatrixError.invalidParam('filter.room.timeline.limit must be a non-negative integer');
  const threaded = f.room?.timeline?.unread_thread_notifications;
  if (threaded !== undefined && typeof threaded !== 'boolean')
    throw MatrixError.invalidParam('filter.room.timeline.unread_thread_notifications must be a boolean');
  for (const list of [f.room?.rooms, f.room?.not_rooms, f.room?.timeline?.types, f.room?.timeline?.not_types, f.room?.timeline?.senders]) {
    if (list !== undefined && (!Array.isArray(list) || !list.every((x) => typeof x === 'string')))
      throw MatrixError.invalidParam('filter lists must hold strings');
  }
  return f;
}

export function timelineLimit(f: SyncFilter | undefined): number {
  return Math.min(f?.room?.timeline?.limit ?? DEFAULT_TIMELINE_LIMIT, MAX_TIMELINE_LIMIT);
}

export function roomIncluded(f: SyncFilter | undefined, roomId: string): boolean {
  if (f?.room?.rooms && !f.room.rooms.includes(roomId)) return false;
  return !f?.room?.not_rooms?.includes(roomId);
}

export function typeAllowed(f: { types?: string[]; not_types?: string[] } | undefined, type: string): boolean {
  const match = (p: string) => (p.endsWith('*') ? type.startsWith(p.slice(0, -1)) : p === type);
  if (f?.not_types?.some(match)) return false;
  return !f?.types || f.types.some(match);
}
