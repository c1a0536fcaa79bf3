import { createHash } from 'node:crypto';
import { Type, type Static } from '@sinclair/typebox';
import { MatrixError } from '../../matrix/errors.js';
import { parseRoomId, parseUserId } from '../../matrix/ids.js';
import type { Db } from '../../storage/db.js';

/**
 * The shape of a sync filter (spec: definitions/sync_filter.yaml). Used as the request body schema:
 * a value of the wrong JSON type is M_BAD_JSON; unknown keys (future or unstable fields) are kept.
 */
const Strings = Type.Optional(Type.Array(Type.String()));
const eventFilterFields = {
  limit: Type.Optional(Type.Integer()),
  types: Strings,
  not_types: Strings,
  senders: Strings,
  not_senders: Strings,
};
const EventFilter = Type.Object(eventFilterFields, { additionalProperties: true });
const RoomEventFilter = Type.Object(
  {
    ...eventFilterFields,
    rooms: Strings,
    not_rooms: Strings,
    contains_url: Type.Optional(Type.Boolean()),
    lazy_load_members: Type.Optional(Type.Boolean()),
    include_redundant_members: Type.Optional(Type.Boolean()),
    unread_thread_notifications: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: true },
);

export const FilterSchema = Type.Object(
  {
    event_fields: Strings,
    event_format: Type.Optional(Type.Union([Type.Literal('client'), Type.Literal('federation')])),
    presence: Type.Optional(EventFilter),
    account_data: Type.Optional(EventFilter),
    room: Type.Optional(
      Type.Object(
        {
          rooms: Strings,
          not_rooms: Strings,
          include_leave: Type.Optional(Type.Boolean()),
          ephemeral: Type.Optional(RoomEventFilter),
          state: Type.Optional(RoomEventFilter),
          timeline: Type.Optional(RoomEventFilter),
          account_data: Type.Optional(RoomEventFilter),
        },
        { additionalProperties: true },
      ),
    ),
  },
  { additionalProperties: true },
);

/** A stored filter as the client uploaded it. */
export type Filter = Static<typeof FilterSchema>;
type EventFilterValue = Static<typeof RoomEventFilter>;

/** Value checks the schema cannot express; each failure is M_INVALID_PARAM. */
export function checkFilter(filter: Filter): void {
  const eventFilters: (EventFilterValue | undefined)[] = [
    filter.presence,
    filter.account_data,
    filter.room?.ephemeral,
    filter.room?.state,
    filter.room?.timeline,
    filter.room?.account_data,
  ];
  for (const f of eventFilters) {
    if (!f) continue;
    // The spec says "greater than 0", but clients send 0 to mean "nothing" and sync accepts it (as Synapse does).
    if (f.limit !== undefined && f.limit < 0) throw MatrixError.invalidParam('limit must not be negative');
    for (const id of [...(f.senders ?? []), ...(f.not_senders ?? [])]) parseUserId(id);
    for (const id of [...(f.rooms ?? []), ...(f.not_rooms ?? [])]) parseRoomId(id);
  }
  for (const id of [...(filter.room?.rooms ?? []), ...(filter.room?.not_rooms ?? [])]) parseRoomId(id);
}

/** Uploaded sync filters (spec: "Filtering"). Ids are decimal strings, so never JSON (`{`). */
export class Filters {
  constructor(private db: Db) {}

  /** Stores a filter (an identical one of the same user is reused) and returns its id. */
  async create(userId: string, filter: Filter): Promise<string> {
    checkFilter(filter);
    const json = JSON.stringify(filter);
    const hash = createHash('md5').update(json).digest('hex');
    const existing = await this.db.query<{ filter_id: number }>(
      'SELECT filter_id FROM hs_filters WHERE user_id = $1 AND json_hash = $2 AND filter_json = $3 LIMIT 1',
      [userId, hash, json],
    );
    if (existing.rows[0]) return String(existing.rows[0].filter_id);
    const { rows } = await this.db.query<{ filter_id: number }>(
      'INSERT INTO hs_filters (user_id, filter_json, json_hash) VALUES ($1, $2, $3) RETURNING filter_id',
      [userId, json, hash],
    );
    return String(rows[0]!.filter_id);
  }

  /** A user's filter by id, or undefined (unknown id, another user's filter, or not an id at all). */
  async get(userId: string, filterId: string): Promise<Filter | undefined> {
    if (!/^[0-9]{1,15}$/.test(filterId)) return undefined;
    const { rows } = await this.db.query<{ filter_json: string }>(
      'SELECT filter_json FROM hs_filters WHERE filter_id = $1 AND user_id = $2',
      [Number(filterId), userId],
    );
    return rows[0] ? (JSON.parse(rows[0].filter_json) as Filter) : undefined;
  }
}
