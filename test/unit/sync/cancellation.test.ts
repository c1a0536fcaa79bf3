import { describe, expect, it } from 'vitest';
import { Cancellation } from '../../../homeserver/services/sync/cancellation.js';
import { MemoryPubSub } from '../../../homeserver/runtime/memory-pubsub.js';
import { SyncNotifier } from '../../../homeserver/services/sync/notifier.js';

async function startedNotifier() {
  const notifier = new SyncNotifier(new MemoryPubSub());
  await notifier.start({
    positions: async () => ({ events: 1, typing: 0, receipts: 0, account_data: 0, to_device: 0, device_lists: 0, presence: 0 }),
    eventsBetween: async () => [],
  });
  return notifier;
}

describe('Cancellation', () => {
  it('calls each listener once on cancel, and not those removed before', () => {
    const c = new Cancellation();
    const calls: string[] = [];
    c.onCancel(() => calls.push('a'));
    const removeB = c.onCancel(() => calls.push('b'));
    removeB();
    expect(c.aborted).toBe(false);
    c.cancel();
    c.cancel();
    expect(c.aborted).toBe(true);
    expect(calls).toEqual(['a']);
    // Registering after the fact never fires: callers check `aborted` first.
    c.onCancel(() => calls.push('late'));
    expect(calls).toEqual(['a']);
  });
});

describe('SyncNotifier.wait with a cancellation', () => {
  it('ends the wait and unregisters the waiter when the client goes away', async () => {
    const notifier = await startedNotifier();
    const c = new Cancellation();
    const waiting = notifier.wait('@u:t', ['!r:t'], 60_000, c);
    expect(notifier.waiting).toBe(1);
    c.cancel();
    await waiting.done;
    expect(notifier.waiting).toBe(0);
  });

  it('returns at once for an already-cancelled request, and a finished wait leaves no listener behind', async () => {
    const notifier = await startedNotifier();
    const gone = new Cancellation();
    gone.cancel();
    await notifier.wait('@u:t', ['!r:t'], 60_000, gone).done;
    expect(notifier.waiting).toBe(0);

    const c = new Cancellation();
    const w = notifier.wait('@u:t', ['!r:t'], 60_000, c);
    w.cancel();
    await w.done;
    let extra = 0;
    c.onCancel(() => extra++);
    c.cancel(); // only the listener registered after the wait: the wait's own was removed
    expect(extra).toBe(1);
    expect(notifier.waiting).toBe(0);
    await notifier.stop();
  });
});
