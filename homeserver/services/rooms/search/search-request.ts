import type { EventFilter } from '../room-reads.js';
import type { SearchKey } from './search-query.js';
import type { GroupKey, SearchOrder } from './search-token.js';

/** The `room_events` criteria of POST /search, as the route's schema lets them through. */
export interface RoomEventsCriteria {
  search_term: string;
  keys?: SearchKey[];
  filter?: EventFilter & { rooms?: string[]; not_rooms?: string[] };
  order_by?: SearchOrder;
  event_context?: { before_limit?: number; after_limit?: number; include_profile?: boolean };
  include_state?: boolean;
  groupings?: { group_by?: { key?: GroupKey }[] };
}

export const DEFAULT_LIMIT = 10;
export const MAX_LIMIT = 100;
export const DEFAULT_CONTEXT = 5;
export const MAX_CONTEXT = 100;
