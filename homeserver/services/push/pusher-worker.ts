import { abortableSleep } from '../../runtime/abortable-sleep.js';
import type { Logger } from '../../runtime/logger.js';
import type { Notifications, NotifyingEvent } from '../notifications/notifications.js';
import type { RoomStateCache } from '../rooms/room-state-cache.js';
import type { BadgeCounts } from './badge-counts.js';
import type { GatewayClient } from './gateway-client.js';
import { badgeBody, notificationBody } from './notification-body.js';
import type { Pushers, StoredPusher } from './pushers.js';
import type { Slots } from '../../runtime/slots.js';

export interface PusherTimings {
  /** Candidate events examined per step. */
  scanLimit: number;
  /** Backoff after a failed push: base * 2^(failures-1), capped (Synapse: 1 s doubling up to 1 h). */
  backoffBaseMs: number;
  backoffCapMs: number;
  /** A notification failing for this long is dropped and the pusher moves on (Synapse: 24 h). */
  giveUpAfterMs: number;
  /** Time limit of one POST to the gateway. */
  httpTimeoutMs: number;
}

export interface WorkerDeps {
  pushers: Pushers;
  notifications: Notifications;
  /** counts.unread, shared with the user's other pushers and the other events of a pass. */
  badges: BadgeCounts;
  cache: RoomStateCache;
  /** Bounds how many pushers scan and post at once. */
  slots: Slots;
  gateway: GatewayClient;
  timings: PusherTimings;
  /** The highest committed stream position (every position up to it is visible). */
  head(): Promise<number>;
  /** The pusher no longer exists (deleted, or its pushkey rejected): drop this worker. */
  gone(worker: PusherWorker): void;
  log?: Logger;
}

/** The pusher was deleted while being worked on. */
class PusherGone extends Error {}

/**
 * One HTTP pusher's delivery: strictly in stream order, one notification at a time. Each step
 * reads the user's notifying events after the pusher's stored position (Notifications.notifyingAfter,
 * the evaluation GET /notifications uses), posts each to the gateway and stores the position after
 * each success, so a restart neither repeats a delivered push nor skips a committed event. A failed
 * push (network, 5xx, 429) is retried from the same position with exponential backoff, the slot
 * given back while it waits.
 */
export class PusherWorker {
  /** stop() was called: no new push starts. */
  private halt = new AbortController();
  /** Cuts the push in flight (after stop's grace period). */
  private abort = new AbortController();
  private running?: Promise<void>;
  private dirty = true;
  private wakeUp?: () => void;
  private position: number;
  /** The user read something: the badge may have dropped (see sendBadge). */
  private badgeDue = false;
  /** The badge the gateway last got from this process. */
  private lastBadge?: number;
  /** Consecutive failed steps (drives the backoff). */
  failures = 0;

  constructor(
    private readonly deps: WorkerDeps,
    public pusher: StoredPusher,
  ) {
    this.position = pusher.last_stream_ordering;
  }

  get key(): string {
    return pusherKey(this.pusher);
  }

  start(): void {
    this.running = this.run();
  }

  /**
   * Lets the push in flight finish (and its position be stored) for up to `graceMs`, so a
   * graceful restart does not send it twice; then cuts it.
   */
  async stop(graceMs = 2000): Promise<void> {
    this.halt.abort();
    this.wakeUp?.();
    const cut = setTimeout(() => this.abort.abort(), graceMs);
    await this.running;
    clearTimeout(cut);
    this.abort.abort();
  }

  wake(): void {
    this.dirty = true;
    this.wakeUp?.();
  }

  /** The user's read receipts moved: once caught up, the gateway gets the new badge. */
  receiptMoved(): void {
    this.badgeDue = true;
    this.wake();
  }

  /** A reload found the row changed (new url, format, pushkey_ts...): later pushes use it. */
  update(p: StoredPusher): void {
    this.position = Math.max(this.position, p.last_stream_ordering);
    this.pusher = { ...p, last_stream_ordering: this.position };
  }

  private async run(): Promise<void> {
    const signal = this.halt.signal;
    while (!signal.aborted) {
      if (!this.dirty) await this.idle();
      if (signal.aborted) break;
      this.dirty = false;
      try {
        const more = await this.deps.slots.run(() => this.step());
        this.failures = 0;
        if (more) this.dirty = true;
        else if (this.badgeDue) {
          this.badgeDue = false;
          await this.deps.slots.run(() => this.sendBadge());
        }
      } catch (err) {
        if (err instanceof PusherGone) {
          this.deps.gone(this);
          return;
        }
        if (signal.aborted) break;
        this.failures++;
        const t = this.deps.timings;
        const delay = Math.min(t.backoffCapMs, t.backoffBaseMs * 2 ** Math.min(this.failures - 1, 30));
        this.deps.log?.warn({ err, user: this.pusher.user_id, app_id: this.pusher.app_id, retryInMs: delay }, 'push failed');
        await abortableSleep(delay, signal);
        this.dirty = true;
      }
    }
  }

  private idle(): Promise<void> {
    return new Promise((resolve) => {
      this.wakeUp = () => {
        this.wakeUp = undefined;
        resolve();
      };
      if (this.dirty || this.halt.signal.aborted) this.wakeUp();
    });
  }

  /** Pushes what is due up to the current head (or scanLimit candidates); true when there is more. */
  private async step(): Promise<boolean> {
    if (this.halt.signal.aborted) return false;
    const head = await this.deps.head();
    if (head <= this.position) return false;
    const { events, scannedTo } = await this.deps.notifications.notifyingAfter(
      this.pusher.user_id,
      this.position,
      head,
      this.deps.timings.scanLimit,
    );
    for (const event of events) {
      if (this.halt.signal.aborted) return false;
      await this.push(event, head);
      await this.advanceTo(event.row.stream_ordering);
    }
    if (scannedTo > this.position) await this.advanceTo(scannedTo);
    return scannedTo < head;
  }

  /** Returns once the gateway took the notification (or refused it for good); throws to retry later. */
  private async push(event: NotifyingEvent, head: number): Promise<void> {
    const p = this.pusher;
    const { pdu, row, evaluation } = event;
    const room = await this.deps.cache.get(pdu.room_id);
    const senderDisplayName = room?.get('m.room.member', pdu.sender)?.content.displayname;
    const roomName = room?.get('m.room.name', '')?.content.name ?? room?.get('m.room.canonical_alias', '')?.content.alias;
    const body = notificationBody(p, pdu, row.event_id, evaluation, {
      unread: await this.deps.badges.of(p.user_id, head),
      senderDisplayName: typeof senderDisplayName === 'string' ? senderDisplayName : undefined,
      roomName: typeof roomName === 'string' ? roomName : undefined,
    });
    const outcome = await this.deps.gateway.post(String(p.data.url), body, this.abort.signal);
    const log = this.deps.log;
    if (outcome.kind === 'delivered') {
      this.lastBadge = body.notification.counts.unread;
      await this.handleRejected(outcome.rejected);
      return;
    }
    if (outcome.kind === 'refused') {
      // A 4xx other than 429 will not change by retrying: this notification is dropped.
      log?.warn(
        { user: p.user_id, app_id: p.app_id, event_id: row.event_id, reason: outcome.reason },
        'push gateway refused a notification',
      );
      return;
    }
    const now = Date.now();
    if (p.failing_since === null) {
      p.failing_since = now;
      await this.deps.pushers.markFailing(p, now);
    } else if (now - p.failing_since >= this.deps.timings.giveUpAfterMs) {
      log?.warn({ user: p.user_id, app_id: p.app_id, event_id: row.event_id }, 'push failing for too long; dropping this notification');
      return;
    }
    throw new Error(`push gateway: ${outcome.reason}`);
  }

  /**
   * A badge-only push (counts and devices, no event) when the user's unread count changed since
   * the last push, as Synapse sends after read receipts so phones clear their badge. Best effort:
   * a failure is logged, not retried (the next push carries the badge anyway).
   */
  private async sendBadge(): Promise<void> {
    const badge = await this.deps.badges.of(this.pusher.user_id, await this.deps.head());
    if (badge === this.lastBadge) return;
    const outcome = await this.deps.gateway.post(String(this.pusher.data.url), badgeBody(this.pusher, badge), this.abort.signal);
    if (outcome.kind !== 'delivered') {
      this.deps.log?.info({ user: this.pusher.user_id, app_id: this.pusher.app_id, reason: outcome.reason }, 'badge update not delivered');
      return;
    }
    this.lastBadge = badge;
    await this.handleRejected(outcome.rejected);
  }

  /** Spec: pushkeys the gateway rejected lose their pushers; if this one is among them, the worker ends. */
  private async handleRejected(rejected: string[]): Promise<void> {
    if (!rejected.length) return;
    const p = this.pusher;
    this.deps.log?.info({ user: p.user_id, app_id: p.app_id, rejected }, 'push gateway rejected pushkeys; removing their pushers');
    await this.deps.pushers.removeRejected(p.user_id, p.app_id, rejected);
    if (rejected.includes(p.pushkey)) throw new PusherGone();
  }

  private async advanceTo(position: number): Promise<void> {
    if (!(await this.deps.pushers.advance(this.pusher, position))) throw new PusherGone();
    this.position = position;
    this.pusher.last_stream_ordering = position;
    this.pusher.failing_since = null;
  }
}

export function pusherKey(p: { user_id: string; app_id: string; pushkey: string }): string {
  return `${p.user_id}\u0000${p.app_id}\u0000${p.pushkey}`;
}
