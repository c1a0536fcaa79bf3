import type { Pdu } from '../../matrix/pdu.js';
import type { Queryable } from '../../storage/db.js';

/**
 * How far a user has read one room, by kind of read receipt (spec: "Threaded read receipts"): an
 * unthreaded receipt reads every event up to it; a receipt with `thread_id: "main"` reads the main
 * timeline (events in no thread, thread roots included); a receipt with a thread root's id reads
 * that thread. Element and matrix-js-sdk send threaded receipts ("main" for the room's timeline)
 * to any server speaking v1.4 or later, so counting only unthreaded ones would never clear a
 * room's unread count for them. m.read and m.read.private count alike. Positions are stream
 * orderings; 0 when there is no such receipt.
 */
export interface ReadPositions {
  unthreaded: number;
  main: number;
  threads: Map<string, number>;
}

export const MAIN_TIMELINE = 'main';

/** The user's read positions in each of `roomIds` that has any receipt of theirs. */
export async function loadReadPositions(db: Queryable, userId: string, roomIds: string[]): Promise<Map<string, ReadPositions>> {
  const out = new Map<string, ReadPositions>();
  if (!roomIds.length) return out;
  const { rows } = await db.query<{ room_id: string; thread_id: string; p: number | string }>(
    `SELECT room_id, thread_id, max(event_stream) AS p FROM hs_receipts
     WHERE user_id = $1 AND room_id = ANY($2) GROUP BY room_id, thread_id`,
    [userId, roomIds],
  );
  for (const r of rows) {
    let reads = out.get(r.room_id);
    if (!reads) out.set(r.room_id, (reads = { unthreaded: 0, main: 0, threads: new Map() }));
    const p = Number(r.p);
    if (r.thread_id === '') reads.unthreaded = p;
    else if (r.thread_id === MAIN_TIMELINE) reads.main = p;
    else reads.threads.set(r.thread_id, p);
  }
  return out;
}

/**
 * The thread an event belongs to for receipts and counts: the root's id for an event with an
 * `m.thread` relation, null (the main timeline) for anything else, thread roots included. (Edits
 * and reactions of thread events stay on the main timeline here; the default push rules never
 * make them notify, so no count moves.)
 */
export function threadOf(pdu: Pdu): string | null {
  const rel = (pdu.content as { 'm.relates_to'?: unknown } | undefined)?.['m.relates_to'];
  if (typeof rel !== 'object' || rel === null) return null;
  const { rel_type: type, event_id: root } = rel as { rel_type?: unknown; event_id?: unknown };
  return type === 'm.thread' && typeof root === 'string' ? root : null;
}

/** Whether the event at `position` of `thread` (null: main timeline) is read. */
export function isRead(reads: ReadPositions | undefined, thread: string | null, position: number): boolean {
  if (!reads) return false;
  if (position <= reads.unthreaded) return true;
  return position <= (thread === null ? reads.main : (reads.threads.get(thread) ?? 0));
}

/** Every event at or below this position is read, whatever its thread: where to start looking for unread ones. */
export function readFloor(reads: ReadPositions | undefined): number {
  return reads?.unthreaded ?? 0;
}
