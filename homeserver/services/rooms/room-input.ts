import { MatrixError } from '../../matrix/errors.js';
import type { RoomVersionId } from '../../matrix/room-versions.js';
import type { Logger } from '../../runtime/logger.js';
import { buildEvent, type BuiltEvent, type EventDraft, type Signer } from './event-builder.js';
import { txnKey, type CommittedEvent, type EventCommitter } from './event-committer.js';
import { RoomState } from './room-state.js';
import type { RoomStateCache } from './room-state-cache.js';

/** Extras of one job, for appservice history import (batch_send); ordinary sends pass none. */
export interface SubmitOptions {
  /** Event ids chosen by the caller, by draft index: mautrix bridges precompute them and keep them. */
  eventIds?: (string | undefined)[];
  /** The events must not count towards anyone's unread notifications (send_notification = false). */
  silent?: boolean;
  /** Prefix an auth failure with `events[i]:` so the caller learns which draft was refused. */
  labelErrors?: boolean;
}

interface Job {
  drafts: EventDraft[];
  newRoom?: { version: RoomVersionId; creator: string };
  opts?: SubmitOptions;
  attempts: number;
  resolve: (events: CommittedEvent[]) => void;
  reject: (err: unknown) => void;
}

const MAX_STALE_RETRIES = 5;

/**
 * The only writer of room timelines and state. Each room has a worker that drains its queue in
 * arrival order: it builds every waiting job on top of the room's current state (each job sees
 * the events of the jobs before it), hands the whole run to the group committer as one chain,
 * and only after the commit builds the next run. Rooms never wait for each other; within a room
 * events are strictly ordered. A job is all-or-nothing: if one of its drafts fails the auth
 * rules, none of its events is kept and the job is rejected with that error.
 */
export class RoomInput {
  private queues = new Map<string, Job[]>();

  constructor(
    private cache: RoomStateCache,
    private committer: EventCommitter,
    private signer: Signer,
    private log: Logger,
  ) {}

  /** Appends drafts to an existing room; resolves once they are durable. */
  submit(roomId: string, drafts: EventDraft[], opts?: SubmitOptions): Promise<CommittedEvent[]> {
    return this.enqueue(roomId, { drafts, attempts: 0, opts });
  }

  /** Writes the first events of a new room (m.room.create first). */
  create(roomId: string, version: RoomVersionId, creator: string, drafts: EventDraft[]): Promise<CommittedEvent[]> {
    return this.enqueue(roomId, { drafts, newRoom: { version, creator }, attempts: 0 });
  }

  private enqueue(roomId: string, job: Omit<Job, 'resolve' | 'reject'>): Promise<CommittedEvent[]> {
    return new Promise((resolve, reject) => {
      const queue = this.queues.get(roomId);
      const full = { ...job, resolve, reject };
      if (queue) return void queue.push(full);
      this.queues.set(roomId, [full]);
      void this.run(roomId);
    });
  }

  private async run(roomId: string): Promise<void> {
    const queue = this.queues.get(roomId)!;
    while (queue.length) {
      // A new room's creation runs alone: there is no state to build anything else on yet.
      const jobs = queue[0]!.newRoom ? queue.splice(0, 1) : queue.splice(0, takeUntilNewRoom(queue));
      try {
        await this.runJobs(roomId, jobs, queue);
      } catch (err) {
        this.cache.evict(roomId);
        this.log.error({ err, roomId }, 'room write failed');
        for (const j of jobs) j.reject(err);
      }
    }
    this.queues.delete(roomId);
  }

  private async runJobs(roomId: string, jobs: Job[], queue: Job[]): Promise<void> {
    const first = jobs[0]!;
    const state = first.newRoom ? new RoomState(roomId, first.newRoom.version, new Map(), null, 0) : await this.cache.get(roomId);
    if (!state) {
      for (const j of jobs) j.reject(MatrixError.notFound('Unknown room'));
      return;
    }
    const overlay = state.overlay();
    const accepted: { job: Job; events: BuiltEvent[] }[] = [];
    for (const job of jobs) {
      const saved = { changes: new Map(overlay.changes), head: overlay.headEventId, depth: overlay.headDepth };
      let index = 0;
      try {
        const events = job.drafts.map((draft, i) => {
          index = i;
          const built = buildEvent(draft, overlay, roomId, state.version, this.signer);
          const chosenId = job.opts?.eventIds?.[i];
          if (chosenId !== undefined) built.eventId = chosenId; // before append: the next event's prev_events use it
          overlay.append(built, built.depth);
          return built;
        });
        accepted.push({ job, events });
      } catch (err) {
        overlay.changes.clear();
        for (const [k, v] of saved.changes) overlay.changes.set(k, v);
        overlay.headEventId = saved.head;
        overlay.headDepth = saved.depth;
        job.reject(job.opts?.labelErrors ? labelDraftError(err, index) : err);
      }
    }
    if (!accepted.length) return;

    const outcome = await this.committer.commit({
      roomId,
      expectedHead: first.newRoom ? null : state.headEventId,
      events: accepted.flatMap((a) => a.events),
      newRoom: first.newRoom,
      silentEventIds: silentIdsOf(accepted),
    });
    if (outcome.kind === 'stale') {
      // Another process wrote to this room: reload its state and rebuild these jobs first.
      this.cache.evict(roomId);
      const retry = accepted
        .map((a) => a.job)
        .filter((j) => {
          if (++j.attempts <= MAX_STALE_RETRIES && !j.newRoom) return true;
          j.reject(
            j.newRoom
              ? new MatrixError('M_ROOM_IN_USE', 'Room already exists')
              : new MatrixError('M_UNKNOWN', 'Room is busy, try again', 503),
          );
          return false;
        });
      queue.unshift(...retry);
      return;
    }
    if (outcome.kind === 'duplicate') {
      // A retried client transaction: its job gets the first event's id and nothing was written.
      // The room's state is untouched (the overlay is dropped), so the other jobs are simply rebuilt.
      const retry: Job[] = [];
      for (const a of accepted) {
        const existing = a.events.map(
          (e) => e.draft.txn && outcome.existing.get(txnKey(e.pdu.sender, e.draft.txn.deviceId, e.draft.txn.txnId)),
        );
        if (existing.some((id) => id !== undefined))
          a.job.resolve(a.events.map((e, i) => ({ eventId: existing[i] ?? e.eventId, streamOrdering: 0, roomId, duplicate: true })));
        else retry.push(a.job);
      }
      queue.unshift(...retry);
      return;
    }
    overlay.commit();
    this.cache.put(state);
    const byId = new Map(outcome.events.map((e) => [e.eventId, e]));
    for (const a of accepted) a.job.resolve(a.events.map((e) => byId.get(e.eventId)!));
  }
}

/** Ids of the events of silent jobs, or undefined when there are none (the common case). */
function silentIdsOf(accepted: { job: Job; events: BuiltEvent[] }[]): string[] | undefined {
  if (!accepted.some((a) => a.job.opts?.silent)) return undefined;
  return accepted.filter((a) => a.job.opts?.silent).flatMap((a) => a.events.map((e) => e.eventId));
}

function labelDraftError(err: unknown, index: number): unknown {
  return err instanceof MatrixError ? new MatrixError(err.errcode, `events[${index}]: ${err.message}`, err.status, err.extra) : err;
}

function takeUntilNewRoom(queue: Job[]): number {
  const i = queue.findIndex((j) => j.newRoom);
  return i === -1 ? queue.length : i;
}
