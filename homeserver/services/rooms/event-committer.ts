import type { Db, Queryable, Tx } from '../../storage/db.js';
import { lockStream, streamLockKey } from '../../storage/stream-lock.js';
import type { BuiltEvent } from './event-builder.js';
import { relationColumns, relationsCte } from './event-relations.js';

/** One room's contribution to a batch: a run of events that extends the room's head. */
export interface Chain {
  roomId: string;
  /** The head the chain was built on; null when the chain creates the room. */
  expectedHead: string | null;
  events: BuiltEvent[];
  newRoom?: { version: string; creator: string };
  /** Events that must not count towards unread notifications (history import); usually absent. */
  silentEventIds?: string[];
}

export interface CommittedEvent {
  eventId: string;
  streamOrdering: number;
  roomId: string;
  /** For m.room.member events: the user whose membership changed (their syncs must wake too). */
  memberTarget?: string;
  /** A retried client transaction: `eventId` is the event written the first time (streamOrdering is then 0). */
  duplicate?: true;
}

/**
 * 'stale': another process moved the room's head first; the caller rebuilds on fresh state.
 * 'duplicate': some events carry a client transaction id that already has an event (a retried
 * send); nothing of the chain was written, `existing` maps txnKey() to the first event's id.
 */
export type ChainOutcome =
  { kind: 'committed'; events: CommittedEvent[] } | { kind: 'stale' } | { kind: 'duplicate'; existing: Map<string, string> };

/** Identifies a client transaction: (sender, device, txnId), as hs_event_txns keys it. */
export const txnKey = (sender: string, deviceId: string, txnId: string) => `${sender}\u0000${deviceId}\u0000${txnId}`;

/** What a batch write reports, by room. */
interface BatchResult {
  accepted: Map<string, CommittedEvent[]>;
  stale: Set<string>;
  committed: CommittedEvent[];
  /** Rooms not written because an event's transaction id was already used: txnKey -> existing event id. */
  duplicates: Map<string, Map<string, string>>;
}

interface Pending {
  chain: Chain;
  resolve: (o: ChainOutcome) => void;
  reject: (e: unknown) => void;
}

/**
 * Group commit across rooms. Room workers hand in chains; while a transaction is in flight the
 * next chains accumulate, and each transaction writes all of them with one multi-row statement
 * per table and one fsync — so throughput grows with load instead of being capped by commit
 * latency. Per-room order is kept by the room workers (one chain per room in flight).
 *
 *   room worker A ─┐                 ┌─ txn 1: [A1 A2, B1, C1..C3] ─ COMMIT ─ resolve all
 *   room worker B ─┼─> pending queue ┤
 *   room worker C ─┘                 └─ txn 2 (while txn 1 commits): [D1, E1 ...]
 *
 * Cross-process safety: the head of each room is compare-and-set in hs_rooms inside the same
 * transaction; a chain whose expected head moved is not written and comes back as 'stale'.
 */
export class EventCommitter {
  private queue: Pending[] = [];
  private inFlight = 0;

  constructor(
    private db: Db,
    private onCommitted: (events: CommittedEvent[], chains: Chain[]) => void,
    private opts = { maxEventsPerBatch: 2000, maxConcurrentBatches: 2 },
  ) {}

  commit(chain: Chain): Promise<ChainOutcome> {
    return new Promise((resolve, reject) => {
      this.queue.push({ chain, resolve, reject });
      this.pump();
    });
  }

  /** Waits for every accepted chain to be written (graceful shutdown). */
  async drain(): Promise<void> {
    while (this.queue.length || this.inFlight) await new Promise((r) => setTimeout(r, 5));
  }

  private pump(): void {
    while (this.inFlight < this.opts.maxConcurrentBatches && this.queue.length) {
      const batch: Pending[] = [];
      let events = 0;
      while (this.queue.length && (events === 0 || events + this.queue[0]!.chain.events.length <= this.opts.maxEventsPerBatch)) {
        const next = this.queue.shift()!;
        events += next.chain.events.length;
        batch.push(next);
      }
      this.inFlight++;
      this.write(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async write(batch: Pending[]): Promise<void> {
    try {
      const chains = batch.map((p) => p.chain);
      // The common case (messages into existing rooms) is one autocommit statement: one round
      // trip instead of BEGIN, head CAS, stream lock, INSERT, COMMIT.
      const { accepted, stale, committed, duplicates } = isOneMessage(chains)
        ? await writeOneEvent(this.db, chains[0]!)
        : chains.every(isSimple)
          ? await writeSimpleBatch(this.db, chains)
          : await this.db.withTransaction((tx) => writeBatch(tx, chains));
      for (const p of batch) {
        const existing = duplicates.get(p.chain.roomId);
        if (existing) p.resolve({ kind: 'duplicate', existing });
        else if (stale.has(p.chain.roomId)) p.resolve({ kind: 'stale' });
        else p.resolve({ kind: 'committed', events: accepted.get(p.chain.roomId) ?? [] });
      }
      // The written chains too (their events in the order of `committed`), for in-process caches.
      if (committed.length)
        this.onCommitted(
          committed,
          batch.map((p) => p.chain).filter((c) => !stale.has(c.roomId) && !duplicates.has(c.roomId)),
        );
    } catch (err) {
      for (const p of batch) p.reject(err);
    }
  }
}

/** A chain that only appends non-state events (no redactions) to an existing room. */
function isSimple(c: Chain): boolean {
  return !c.newRoom && c.events.every((e) => e.pdu.state_key === undefined && e.pdu.type !== 'm.room.redaction');
}

/** One chain of one simple event without relations: what a lone send is (see writeOneEvent). */
function isOneMessage(chains: Chain[]): boolean {
  return chains.length === 1 && chains[0]!.events.length === 1 && isSimple(chains[0]!) && !relationColumns(chains[0]!.events);
}

/**
 * writeSimpleBatch for one event: the same checks and writes in one statement, through
 * hs_commit_one_event (migration 0017), whose scalar statement keeps one generic plan per
 * connection instead of being planned on every send like the array statement.
 */
async function writeOneEvent(db: Queryable, chain: Chain): Promise<BatchResult> {
  const e = chain.events[0]!;
  const { rows } = await db.query<ResultRow>(
    'SELECT * FROM hs_commit_one_event($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)',
    [
      chain.roomId,
      chain.expectedHead,
      e.eventId,
      e.depth,
      streamLockKey('events'),
      e.pdu.type,
      e.pdu.sender,
      e.pdu.origin_server_ts,
      e.json,
      e.unsigned ? JSON.stringify(e.unsigned) : null,
      e.draft.txn?.deviceId ?? null,
      e.draft.txn?.txnId ?? null,
      (chain.silentEventIds ?? []).includes(e.eventId),
      Date.now(),
    ],
    'hs_commit_one_event',
  );
  return batchResult([chain], rows);
}

/**
 * Writes chains of simple events as ONE statement in autocommit mode (its own implicit
 * transaction, durable when it returns). Evaluation order is forced by data dependencies, since
 * Postgres only orders CTEs that read each other: `lk` aggregates every row of `cas` (so the head
 * compare-and-set UPDATE has run to completion and holds its room row locks — rooms before the
 * stream lock, as in writeBatch) before it takes the events stream lock, and both inserts read
 * `lk`, so no stream position is drawn before the lock is held. A room whose head moved is not
 * in `cas`, so none of its events or txn ids are written and it is reported stale. If no head
 * matched, `lk` has no row and nothing is written.
 * Client transaction ids are checked in the same statement (`dup`, read before anything is
 * written): a room with an already-used txn id is left out of `cas` and reported as duplicate, so
 * a send costs one round trip instead of a lookup and then a write.
 */
async function writeSimpleBatch(db: Queryable, chains: Chain[]): Promise<BatchResult> {
  const sorted = [...chains].sort((a, b) => (a.roomId < b.roomId ? -1 : 1)); // stable lock order
  // Positions follow the batch order (as in writeBatch), so `committed` is in position order.
  const events = chains.flatMap((c) => c.events);
  const withTxn = events.filter((e) => e.draft.txn);
  const silent = new Set(sorted.flatMap((c) => c.silentEventIds ?? []));
  // Relations (threads, edits, reactions) ride in the same statement; without any, the SQL is unchanged.
  const relations = relationColumns(events);
  const { rows } = await db.query<ResultRow>(
    `WITH dup AS MATERIALIZED (
       SELECT y.r, t.event_id, y.us, y.dv, y.ti
       FROM unnest($17::text[], $18::text[], $19::text[], $20::text[], $21::text[]) AS y(us, dv, ti, ev, r)
       JOIN hs_event_txns t ON t.user_id = y.us AND t.device_id = y.dv AND t.txn_id = y.ti),
     cas AS (
       UPDATE hs_rooms r SET head_event_id = v.new_head, head_depth = v.new_depth
       FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS v(room_id, expected, new_head, new_depth)
       WHERE r.room_id = v.room_id AND r.head_event_id = v.expected AND NOT EXISTS (SELECT 1 FROM dup WHERE dup.r = v.room_id)
       RETURNING r.room_id),
     lk AS MATERIALIZED (
       SELECT pg_advisory_xact_lock(hashtext($5)) AS locked, array_agg(room_id) AS rooms FROM cas HAVING count(*) > 0),
     ins AS (
       INSERT INTO hs_events (event_id, room_id, type, state_key, sender, origin_server_ts, depth, json, unsigned, txn_device, txn_id, silent)
       SELECT x.e, x.r, x.t, NULL, x.s, x.ts, x.d, x.j, x.u, x.td, x.ti, x.sl FROM lk, unnest($6::text[], $7::text[], $8::text[], $9::text[],
         $10::bigint[], $11::bigint[], $12::text[], $13::text[], $14::text[], $15::text[], $16::boolean[])
         WITH ORDINALITY AS x(e, r, t, s, ts, d, j, u, td, ti, sl, n)
       WHERE x.r = ANY(lk.rooms)
       ORDER BY x.n RETURNING event_id, stream_ordering, room_id),
     txns AS (
       INSERT INTO hs_event_txns (user_id, device_id, txn_id, event_id, created_ts)
       SELECT y.us, y.dv, y.ti, y.ev, $22::bigint FROM lk, unnest($17::text[], $18::text[], $19::text[], $20::text[], $21::text[])
         AS y(us, dv, ti, ev, r)
       WHERE y.r = ANY(lk.rooms) ON CONFLICT DO NOTHING)${relations ? `, ${relationsCte(23, 'ins')}` : ''}
     SELECT event_id, stream_ordering, room_id, NULL::text AS us, NULL::text AS dv, NULL::text AS ti FROM ins
     UNION ALL SELECT event_id, NULL::bigint, r, us, dv, ti FROM dup
     ORDER BY stream_ordering`,
    [
      sorted.map((c) => c.roomId),
      sorted.map((c) => c.expectedHead),
      sorted.map((c) => last(c).eventId),
      sorted.map((c) => last(c).depth),
      streamLockKey('events'),
      events.map((e) => e.eventId),
      events.map((e) => e.pdu.room_id),
      events.map((e) => e.pdu.type),
      events.map((e) => e.pdu.sender),
      events.map((e) => e.pdu.origin_server_ts),
      events.map((e) => e.depth),
      events.map((e) => e.json),
      events.map((e) => (e.unsigned ? JSON.stringify(e.unsigned) : null)),
      events.map((e) => e.draft.txn?.deviceId ?? null),
      events.map((e) => e.draft.txn?.txnId ?? null),
      events.map((e) => silent.has(e.eventId)),
      withTxn.map((e) => e.pdu.sender),
      withTxn.map((e) => e.draft.txn!.deviceId),
      withTxn.map((e) => e.draft.txn!.txnId),
      withTxn.map((e) => e.eventId),
      withTxn.map((e) => e.pdu.room_id),
      Date.now(),
      ...(relations ?? []),
    ],
    // Every send runs this statement: named, it is parsed once per connection (see Queryable).
    relations ? 'hs_commit_simple_relations' : 'hs_commit_simple',
  );
  return batchResult(chains, rows);
}

/** A row of the simple write statements: an inserted event (txn columns null) or a used transaction id. */
type ResultRow = { event_id: string; stream_ordering: number | null; room_id: string } & Partial<TxnCols>;

/** What the simple write statements report, by chain: written, stale (head moved) or duplicate (txn id used). */
function batchResult(chains: Chain[], rows: ResultRow[]): BatchResult {
  const duplicates = duplicatesByRoom(rows.filter((r) => r.us !== null) as TxnRow[]);
  const inserted = rows.filter((r) => r.us === null);
  const ordering = new Map(inserted.map((r) => [r.event_id, r.stream_ordering!]));
  const written = new Set(inserted.map((r) => r.room_id));
  const stale = new Set(chains.filter((c) => !written.has(c.roomId) && !duplicates.has(c.roomId)).map((c) => c.roomId));
  const accepted = new Map<string, CommittedEvent[]>();
  const committed: CommittedEvent[] = [];
  for (const c of chains) {
    if (stale.has(c.roomId) || duplicates.has(c.roomId)) continue;
    const list = c.events.map((e) => ({ eventId: e.eventId, streamOrdering: ordering.get(e.eventId)!, roomId: c.roomId }));
    accepted.set(c.roomId, list);
    committed.push(...list);
  }
  return { accepted, stale, committed, duplicates };
}

/** The transaction (sender, device, txnId) a duplicate row was found for. */
type TxnCols = { us: string; dv: string; ti: string };
type TxnRow = { event_id: string; room_id: string } & TxnCols;

function duplicatesByRoom(rows: TxnRow[]): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  for (const r of rows) {
    const room = out.get(r.room_id) ?? new Map<string, string>();
    room.set(txnKey(r.us, r.dv, r.ti), r.event_id);
    out.set(r.room_id, room);
  }
  return out;
}

/** Chains of existing rooms whose events reuse a client transaction id, read inside the batch's transaction. */
async function findDuplicateTxns(tx: Queryable, chains: Chain[]): Promise<Map<string, Map<string, string>>> {
  const withTxn = chains.filter((c) => !c.newRoom).flatMap((c) => c.events.filter((e) => e.draft.txn));
  if (!withTxn.length) return new Map();
  const { rows } = await tx.query<TxnRow>(
    `SELECT y.r AS room_id, t.event_id, y.us, y.dv, y.ti
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS y(us, dv, ti, r)
     JOIN hs_event_txns t ON t.user_id = y.us AND t.device_id = y.dv AND t.txn_id = y.ti`,
    [
      withTxn.map((e) => e.pdu.sender),
      withTxn.map((e) => e.draft.txn!.deviceId),
      withTxn.map((e) => e.draft.txn!.txnId),
      withTxn.map((e) => e.pdu.room_id),
    ],
  );
  return duplicatesByRoom(rows);
}

async function writeBatch(tx: Tx, allChains: Chain[]): Promise<BatchResult> {
  const stale = new Set<string>();
  const duplicates = await findDuplicateTxns(tx, allChains);
  const chains = allChains.filter((c) => !duplicates.has(c.roomId));
  const created = chains.filter((c) => c.newRoom);
  if (created.length) {
    const now = Date.now();
    const { rows } = await tx.query<{ room_id: string }>(
      `INSERT INTO hs_rooms (room_id, room_version, creator, head_event_id, head_depth, created_ts)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[])
       ON CONFLICT DO NOTHING RETURNING room_id`,
      [
        created.map((c) => c.roomId),
        created.map((c) => c.newRoom!.version),
        created.map((c) => c.newRoom!.creator),
        created.map((c) => last(c).eventId),
        created.map((c) => last(c).depth),
        created.map(() => now),
      ],
    );
    const ok = new Set(rows.map((r) => r.room_id));
    for (const c of created) if (!ok.has(c.roomId)) stale.add(c.roomId);
  }
  const extended = chains.filter((c) => !c.newRoom).sort((a, b) => (a.roomId < b.roomId ? -1 : 1)); // stable lock order
  if (extended.length) {
    const { rows } = await tx.query<{ room_id: string }>(
      `UPDATE hs_rooms r SET head_event_id = v.new_head, head_depth = v.new_depth
       FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS v(room_id, expected, new_head, new_depth)
       WHERE r.room_id = v.room_id AND r.head_event_id = v.expected RETURNING r.room_id`,
      [
        extended.map((c) => c.roomId),
        extended.map((c) => c.expectedHead),
        extended.map((c) => last(c).eventId),
        extended.map((c) => last(c).depth),
      ],
    );
    const ok = new Set(rows.map((r) => r.room_id));
    for (const c of extended) if (!ok.has(c.roomId)) stale.add(c.roomId);
  }

  const events = chains.filter((c) => !stale.has(c.roomId)).flatMap((c) => c.events);
  const silentIds = new Set(chains.flatMap((c) => c.silentEventIds ?? []));
  if (!events.length) return { accepted: new Map<string, CommittedEvent[]>(), stale, committed: [], duplicates };
  // After the room rows (always locked first, in room order), so the two lock kinds cannot deadlock.
  await lockStream(tx, 'events');
  // Events and their transaction ids in one statement: one round trip less per batch.
  const withTxn = events.filter((e) => e.draft.txn);
  const relations = relationColumns(events);
  const { rows } = await tx.query<{ event_id: string; stream_ordering: number }>(
    `WITH ins AS (
       INSERT INTO hs_events (event_id, room_id, type, state_key, sender, origin_server_ts, depth, json, unsigned, txn_device, txn_id, silent)
       SELECT e, r, t, sk, s, ts, d, j, u, td, ti, sl FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[],
         $7::bigint[], $8::text[], $9::text[], $10::text[], $11::text[], $12::boolean[]) WITH ORDINALITY AS x(e, r, t, sk, s, ts, d, j, u, td, ti, sl, n)
       ORDER BY n RETURNING event_id, stream_ordering),
     txns AS (
       INSERT INTO hs_event_txns (user_id, device_id, txn_id, event_id, created_ts)
       SELECT *, $17::bigint FROM unnest($13::text[], $14::text[], $15::text[], $16::text[]) ON CONFLICT DO NOTHING)${
         relations ? `, ${relationsCte(18, 'ins')}` : ''
       }
     SELECT event_id, stream_ordering FROM ins`,
    [
      ...eventRowColumns(events),
      events.map((e) => e.draft.txn?.deviceId ?? null),
      events.map((e) => e.draft.txn?.txnId ?? null),
      events.map((e) => silentIds.has(e.eventId)),
      withTxn.map((e) => e.pdu.sender),
      withTxn.map((e) => e.draft.txn!.deviceId),
      withTxn.map((e) => e.draft.txn!.txnId),
      withTxn.map((e) => e.eventId),
      Date.now(),
      ...(relations ?? []),
    ],
  );
  const ordering = new Map(rows.map((r) => [r.event_id, r.stream_ordering]));

  // Current state and membership: the last event per key wins (one upsert may not touch a row twice).
  const latestState = new Map<string, BuiltEvent>();
  for (const e of events)
    if (e.pdu.state_key !== undefined) latestState.set(`${e.pdu.room_id}\u0000${e.pdu.type}\u0000${e.pdu.state_key}`, e);
  const stateEvents = [...latestState.values()];
  if (stateEvents.length) {
    await tx.query(
      `INSERT INTO hs_room_state (room_id, type, state_key, event_id)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
       ON CONFLICT (room_id, type, state_key) DO UPDATE SET event_id = EXCLUDED.event_id`,
      [
        stateEvents.map((e) => e.pdu.room_id),
        stateEvents.map((e) => e.pdu.type),
        stateEvents.map((e) => e.pdu.state_key),
        stateEvents.map((e) => e.eventId),
      ],
    );
    const members = stateEvents.filter((e) => e.pdu.type === 'm.room.member');
    if (members.length) {
      await tx.query(
        `INSERT INTO hs_memberships (room_id, user_id, membership, event_id, stream_ordering)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[])
         ON CONFLICT (room_id, user_id) DO UPDATE SET membership = EXCLUDED.membership, event_id = EXCLUDED.event_id,
           stream_ordering = EXCLUDED.stream_ordering, forgotten = false`,
        [
          members.map((e) => e.pdu.room_id),
          members.map((e) => e.pdu.state_key),
          members.map((e) => String(e.pdu.content.membership)),
          members.map((e) => e.eventId),
          members.map((e) => ordering.get(e.eventId)),
        ],
      );
    }
  }

  await applyRedactions(tx, events);

  const accepted = new Map<string, CommittedEvent[]>();
  const committed: CommittedEvent[] = [];
  for (const e of events) {
    const c: CommittedEvent = { eventId: e.eventId, streamOrdering: ordering.get(e.eventId)!, roomId: e.pdu.room_id };
    if (e.pdu.type === 'm.room.member') c.memberTarget = e.pdu.state_key;
    committed.push(c);
    const list = accepted.get(c.roomId) ?? [];
    list.push(c);
    accepted.set(c.roomId, list);
  }
  return { accepted, stale, committed, duplicates };
}

const last = (c: Chain) => c.events[c.events.length - 1]!;
export const redactsOf = (e: BuiltEvent) => (e.pdu.redacts ?? e.pdu.content.redacts) as string;

/** The hs_events columns every writer fills, as unnest() arrays: event_id, room_id, type, state_key, sender, origin_server_ts, depth, json, unsigned. */
export function eventRowColumns(events: BuiltEvent[]): unknown[][] {
  return [
    events.map((e) => e.eventId),
    events.map((e) => e.pdu.room_id),
    events.map((e) => e.pdu.type),
    events.map((e) => e.pdu.state_key ?? null),
    events.map((e) => e.pdu.sender),
    events.map((e) => e.pdu.origin_server_ts),
    events.map((e) => e.depth),
    events.map((e) => e.json),
    events.map((e) => (e.unsigned ? JSON.stringify(e.unsigned) : null)),
  ];
}

/**
 * Marks the targets of the redactions among `events` (targets in the same room only), for live and
 * historical writes alike. A redacted child leaves its parent's aggregations and /relations (spec:
 * redacting a relation removes it), so its relation row goes in the same statement.
 */
export async function applyRedactions(tx: Queryable, events: BuiltEvent[]): Promise<void> {
  const redactions = events.filter((e) => e.pdu.type === 'm.room.redaction');
  if (!redactions.length) return;
  await tx.query(
    `WITH unrelate AS (
       DELETE FROM hs_event_relations x USING unnest($1::text[], $3::text[]) AS v(target, room)
       WHERE x.event_id = v.target AND x.room_id = v.room)
     UPDATE hs_events SET redacted_by = v.redaction FROM unnest($1::text[], $2::text[], $3::text[]) AS v(target, redaction, room)
     WHERE event_id = v.target AND room_id = v.room AND redacted_by IS NULL`,
    [redactions.map((e) => redactsOf(e)), redactions.map((e) => e.eventId), redactions.map((e) => e.pdu.room_id)],
  );
}
