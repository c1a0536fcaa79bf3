/**
 * One connection's updates in pts order, each handed over once: first the difference from the
 * cursor's position (what happened while the client was offline), then the live pushes. Pushes
 * that arrive while the difference is fetched are held back and follow it, minus those it
 * already contained. This is what a Telegram client does around updates.getDifference.
 */
import type { FakeConnection } from './fake-connection.js';
import type { NetEvent, OwnUpdate, PushedEvent } from './types.js';
import type { UpdateCursor } from './update-cursor.js';

/** Hands an update to the core; `done(applied)` once the core is through with it. */
export type UpdateHandler = (event: NetEvent, done?: (applied: boolean) => void) => void;

const PAGE = 100;

export class UpdateStream {
  private held: (PushedEvent | OwnUpdate)[] | undefined = [];
  /** The highest pts handed over (or skipped) on this connection. */
  private last = 0;

  constructor(
    private readonly cursor: UpdateCursor,
    private readonly handle: UpdateHandler,
  ) {}

  /** A push from the connection: held until the difference is through, then handed over. */
  push(signal: PushedEvent | OwnUpdate): void {
    if (this.held) this.held.push(signal);
    else this.take(signal);
  }

  /**
   * Fetches and hands over the difference, then the held pushes; from then on pushes go straight
   * through. False when `stale()` turned true meanwhile (the caller drops the connection).
   */
  async catchUp(conn: FakeConnection, stale: () => boolean): Promise<boolean> {
    let pts = this.cursor.position;
    if (pts === undefined) {
      // Never connected: nothing to recover, start from now (Telegram updates.getState). "Now" is
      // when the connection opened: pushes held since then are live updates, not history.
      const state = (await conn.getState()).pts;
      if (stale()) return false;
      pts = this.beforeHeld(state);
      this.cursor.skipTo(pts);
    }
    this.last = pts;
    for (;;) {
      const diff = await conn.getDifference(pts, PAGE);
      if (stale()) return false;
      if (diff.kind === 'too_long') {
        // The log no longer reaches back: messages come from the core's history catch-up, the rest is gone.
        this.last = this.beforeHeld(diff.pts);
        this.cursor.skipTo(this.last);
        break;
      }
      for (const u of diff.updates) this.take({ ...u.event, pts: u.pts });
      pts = diff.pts;
      if (diff.final) break;
    }
    const held = this.held ?? [];
    this.held = undefined;
    for (const s of held) this.take(s);
    return true;
  }

  /** `state`, or just before the first push held since the connection opened, if earlier (that one is live, not missed). */
  private beforeHeld(state: number): number {
    const firstHeld = this.held?.find((s) => s.pts !== undefined)?.pts;
    return firstHeld === undefined ? state : Math.min(state, firstHeld - 1);
  }

  private take(s: PushedEvent | OwnUpdate): void {
    const pts = s.pts;
    if (pts === undefined) return this.handle(s as NetEvent); // typing: not logged, nothing to track
    if (pts <= this.last) return; // the difference had it already
    // A gap (pts > last + 1) cannot heal here, but the cursor never passes it: the next connect asks again.
    this.last = pts;
    if (s.type === 'own_update') return this.cursor.processed(pts);
    this.handle(s, (applied) => {
      if (applied) this.cursor.processed(pts);
    });
  }
}
