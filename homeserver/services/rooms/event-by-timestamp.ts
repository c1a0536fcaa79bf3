import { MatrixError } from '../../matrix/errors.js';
import type { Requester } from '../requester.js';
import type { EventRow } from './client-event.js';
import type { RoomReads } from './room-reads.js';
import type { RoomsContext } from './rooms-context.js';

const BATCH = 100;
/** A user who may see none of a long stretch (e.g. before their join) gets 404 after this many pages. */
const MAX_PAGES = 100;

/**
 * `GET /_matrix/client/v1/rooms/{roomId}/timestamp_to_event` (jump to date): the event closest to
 * a time in one direction, by origin_server_ts (index hs_events_room_ts), among the events the
 * requester may see. Synapse answers with the nearest event whatever its visibility; we skip the
 * ones the user may not see, so the answer never names an event /context would then refuse.
 */
export class EventByTimestamp {
  constructor(
    private ctx: Pick<RoomsContext, 'db'>,
    private reads: Pick<RoomReads, 'visibility' | 'visible'>,
  ) {}

  async find(
    requester: Requester,
    roomIdText: string,
    ts: number,
    dir: 'f' | 'b',
  ): Promise<{ event_id: string; origin_server_ts: number }> {
    // As every read endpoint: members (past or present) and anyone in a world-readable room may look.
    const filter = await this.reads.visibility(requester, roomIdText);
    const forward = dir === 'f';
    // Keyset pages over (origin_server_ts, stream_ordering) until a visible event turns up.
    let after: [number, number] | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const { rows } = await this.ctx.db.query<{ event_id: string; origin_server_ts: number; stream_ordering: number }>(
        `SELECT event_id, origin_server_ts, stream_ordering FROM hs_events
          WHERE room_id = $1 AND origin_server_ts ${forward ? '>=' : '<='} $2
            AND ($3::bigint IS NULL OR (origin_server_ts, stream_ordering) ${forward ? '>' : '<'} ($3::bigint, $4::bigint))
          ORDER BY origin_server_ts ${forward ? 'ASC' : 'DESC'}, stream_ordering ${forward ? 'ASC' : 'DESC'}
          LIMIT ${BATCH}`,
        [roomIdText, ts, after?.[0] ?? null, after?.[1] ?? null],
      );
      for (const row of rows) {
        // The filter reads an event's position only.
        const position = { stream_ordering: Number(row.stream_ordering) } as EventRow;
        if (this.reads.visible(filter, position)) return { event_id: row.event_id, origin_server_ts: Number(row.origin_server_ts) };
      }
      if (rows.length < BATCH) break;
      const last = rows[rows.length - 1]!;
      after = [Number(last.origin_server_ts), Number(last.stream_ordering)];
    }
    throw MatrixError.notFound(`Unable to find event from ${ts} in direction ${forward ? 'f' : 'b'}`);
  }
}
