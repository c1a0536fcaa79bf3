import { MatrixError } from '../../matrix/errors.js';
import type { Db, Tx } from '../../storage/db.js';
import { buildEvent, type BuiltEvent, type EventDraft, type Signer } from './event-builder.js';
import { applyRedactions, eventRowColumns } from './event-committer.js';
import { relationColumns, relationsCte } from './event-relations.js';
import type { RoomState } from './room-state.js';

/**
 * Writes historical events BEFORE a room's timeline (batch_send with forward = false).
 *
 * Positions: the events take stream_ordering values below zero from hs_events_backfill_seq (see
 * migration 0010), oldest event lowest, each batch below the previous one of the room. Readers
 * of new events (incremental sync, appservice delivery) only look above a position >= 0, so
 * history never arrives as new; /messages, /context and sync timelines order by the same column
 * and find it before the room's first event.
 *
 * DAG: the first event of a batch has the room's m.room.create as its prev_event, every next one
 * the event before it, with depth counting up from the create event's. History is thus a side
 * chain hanging off the room's root: every event has a real ancestry and auth_events from the
 * room's current state, which is what it was authorised against (senders must be joined now).
 * Causeway is the only server in its rooms, so no other server has to accept this splice; the
 * room's head, current state and memberships are never touched, and nobody is woken up.
 */
export class HistoryWriter {
  constructor(
    private db: Db,
    private signer: Signer,
  ) {}

  /**
   * Authorises and signs every draft (all-or-nothing; an error names `events[i]`), then writes them
   * in one transaction. `eventIds[i]`, when given, replaces the reference-hash id of draft i.
   */
  async insert(state: RoomState, drafts: EventDraft[], eventIds: (string | undefined)[]): Promise<string[]> {
    const events = this.build(state, drafts, eventIds);
    await this.db.withTransaction(async (tx) => {
      // One backward batch of a room at a time, so a later batch gets lower positions than an earlier one.
      await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`backfill:${state.roomId}`]);
      const { rows } = await tx.query<{ p: number }>(
        "SELECT nextval('hs_events_backfill_seq') AS p FROM generate_series(1, $1::int) ORDER BY 1",
        [events.length],
      );
      await insertEvents(
        tx,
        events,
        rows.map((r) => r.p),
      ); // ascending: events[0], the oldest, lowest
    });
    return events.map((e) => e.eventId);
  }

  private build(state: RoomState, drafts: EventDraft[], eventIds: (string | undefined)[]): BuiltEvent[] {
    const create = state.getStored('m.room.create', '');
    if (!create) throw MatrixError.notFound('Unknown room');
    // A throwaway view of the current state whose "head" walks along the historical chain.
    const view = state.overlay();
    view.headEventId = create.eventId;
    view.headDepth = create.pdu.depth;
    return drafts.map((draft, i) => {
      let built: BuiltEvent;
      try {
        built = buildEvent(draft, view, state.roomId, state.version, this.signer);
      } catch (err) {
        if (err instanceof MatrixError) throw new MatrixError(err.errcode, `events[${i}]: ${err.message}`, err.status, err.extra);
        throw err;
      }
      if (eventIds[i] !== undefined) built.eventId = eventIds[i];
      view.headEventId = built.eventId;
      view.headDepth = built.depth;
      return built;
    });
  }
}

async function insertEvents(tx: Tx, events: BuiltEvent[], positions: number[]): Promise<void> {
  const relations = relationColumns(events);
  try {
    await tx.query(
      `WITH ins AS (
         INSERT INTO hs_events (stream_ordering, event_id, room_id, type, state_key, sender, origin_server_ts, depth, json, unsigned)
         SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::bigint[],
           $9::text[], $10::text[]) RETURNING event_id, stream_ordering)${relations ? `, ${relationsCte(11, 'ins')}` : ''}
       SELECT count(*) FROM ins`,
      [positions, ...eventRowColumns(events), ...(relations ?? [])],
    );
  } catch (err) {
    // Another request stored one of the caller-chosen ids between our check and this insert.
    if ((err as { code?: string }).code === '23505') throw MatrixError.invalidParam('An event with one of these event IDs already exists');
    throw err;
  }
  // Redactions inside history apply to their targets like live ones.
  await applyRedactions(tx, events);
}
