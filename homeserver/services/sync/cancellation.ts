/**
 * A one-shot "stop waiting" flag for a long-poll, set when the client disconnects. It is the part
 * of AbortController that sync uses, without its cost: every /sync request made one, and an
 * AbortController is an EventTarget with an AbortSignal (and a DOMException when aborted) — in a
 * profile of 1,000 long-polls that was ~3% of the server's CPU, spent on requests that almost
 * never abort.
 */
export class Cancellation {
  private cancelled = false;
  private listeners: (() => void)[] | undefined;

  get aborted(): boolean {
    return this.cancelled;
  }

  /** Sets the flag and calls every registered listener once. */
  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    const listeners = this.listeners;
    this.listeners = undefined;
    if (listeners) for (const fn of listeners) fn();
  }

  /** Calls `fn` on cancel (never if already cancelled: check `aborted` first); returns its remover. */
  onCancel(fn: () => void): () => void {
    if (this.cancelled) return () => {};
    (this.listeners ??= []).push(fn);
    return () => {
      const i = this.listeners?.indexOf(fn) ?? -1;
      if (i >= 0) this.listeners!.splice(i, 1);
    };
  }
}
