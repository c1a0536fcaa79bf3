import { abortableSleep } from '../../runtime/abortable-sleep.js';
import type { Db } from '../../storage/db.js';
import type { PubSub } from '../../runtime/ports.js';
import type { Logger } from '../../runtime/logger.js';
import type { Notifications } from '../notifications/notifications.js';
import type { RoomStateCache } from '../rooms/room-state-cache.js';
import { ROOM_EVENTS_TOPIC, type RoomEventsWakeUp } from '../sync/notifier.js';
import { STREAM_TOPIC, type StreamWakeUp } from '../sync/stream-source.js';
import { PUSHERS_TOPIC, type Pushers } from './pushers.js';
import { PusherWorker, pusherKey, type PusherTimings } from './pusher-worker.js';
import { SessionLockConnection, type SessionLease } from '../../storage/session-lease.js';
import { GatewayClient } from './gateway-client.js';
import { BadgeCounts } from './badge-counts.js';
import type { IpFilter } from '../media/ip-filter.js';
import { Slots } from '../../runtime/slots.js';

export interface PusherDeliveryOptions {
  db: Db;
  pubsub: PubSub;
  pushers: Pushers;
  notifications: Notifications;
  cache: RoomStateCache;
  /** Which addresses gateways may be reached at (config push.ip_range_blacklist / whitelist). */
  ipFilter: IpFilter;
  log?: Logger;
}

export interface PusherDeliverySettings extends PusherTimings {
  /** Pushers scanning or posting at once. */
  concurrency: number;
  /** How often a process without the lease tries to take it. */
  leaseRetryMs: number;
  /** Pushers are reloaded and woken this often, in case a wake-up was lost (Redis reconnects). */
  sweepMs: number;
}

const DEFAULTS: PusherDeliverySettings = {
  scanLimit: 200,
  backoffBaseMs: 1000,
  backoffCapMs: 60 * 60 * 1000,
  giveUpAfterMs: 24 * 60 * 60 * 1000,
  httpTimeoutMs: 10_000,
  concurrency: 8,
  leaseRetryMs: 2000,
  sweepMs: 5 * 60 * 1000,
};

/**
 * Push notifications to HTTP pushers (spec: Push Gateway API), off the send path: after commit,
 * the `hs.room_events` wake-up names the rooms that changed, and the pushers of users joined to
 * them (or targeted by a membership event) wake up and read what is new from Postgres. One
 * PusherWorker per pusher; at most `concurrency` work at once.
 *
 * Cluster: one process pushes for every pusher, the holder of a session lease (storage/session-lease.ts,
 * as appservice delivery leases each appservice; like Synapse's single pusher instance). Processes with
 * the appservice_delivery role run this (services.ts); the others stand by and take over within
 * leaseRetryMs when the holder dies. Positions live in hs_pushers, so the new holder continues
 * where the old one stopped.
 */
export class PusherDelivery {
  readonly settings: PusherDeliverySettings = { ...DEFAULTS };
  private workers = new Map<string, PusherWorker>();
  private readonly locks: SessionLockConnection;
  private readonly lease: SessionLease;
  private slots?: Slots;
  private abort = new AbortController();
  private unsubscribe: (() => Promise<void>)[] = [];
  private running?: Promise<void>;
  private leaseLost?: () => void;
  private reloading: Promise<void> = Promise.resolve();
  private pendingRooms = new Set<string>();
  private pendingUsers = new Set<string>();
  private routing = false;
  private sweepTimer?: NodeJS.Timeout;
  private readonly gateway: GatewayClient;
  private readonly badges: BadgeCounts;

  constructor(private readonly deps: PusherDeliveryOptions) {
    this.locks = new SessionLockConnection(deps.db, deps.log);
    this.lease = this.locks.lease('pushers');
    this.lease.onLost(() => this.leaseLost?.());
    this.gateway = new GatewayClient(deps.ipFilter, () => this.settings.httpTimeoutMs);
    this.badges = new BadgeCounts((userId) => deps.notifications.unreadRooms(userId));
  }

  async start(settings: Partial<PusherDeliverySettings> = {}): Promise<void> {
    Object.assign(this.settings, settings);
    this.slots = new Slots(this.settings.concurrency);
    this.unsubscribe.push(
      await this.deps.pubsub.subscribe(ROOM_EVENTS_TOPIC, (msg) => this.noteEvents(msg as RoomEventsWakeUp)),
      await this.deps.pubsub.subscribe(STREAM_TOPIC, (msg) => this.noteReceipts(msg as StreamWakeUp)),
      await this.deps.pubsub.subscribe(PUSHERS_TOPIC, () => {
        if (this.lease.held) this.reload();
      }),
    );
    this.running = this.holdLease();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    for (const u of this.unsubscribe.splice(0)) await u();
    await this.running;
    await this.reloading;
    await this.locks.close();
    this.gateway.close();
  }

  /** The worker of a pusher (tests). */
  worker(userId: string, appId: string, pushkey: string): PusherWorker | undefined {
    return this.workers.get(pusherKey({ user_id: userId, app_id: appId, pushkey }));
  }

  /** Takes the lease (retrying while another process holds it), runs the workers while it lasts. */
  private async holdLease(): Promise<void> {
    const { signal } = this.abort;
    while (!signal.aborted) {
      if (!(await this.lease.tryAcquire())) {
        await abortableSleep(this.settings.leaseRetryMs, signal);
        continue;
      }
      // Ends on lease loss or on stop(), whichever comes first (stop may come during tryAcquire).
      const lost = new Promise<void>((resolve) => {
        this.leaseLost = resolve;
        if (signal.aborted) resolve();
        else signal.addEventListener('abort', () => resolve(), { once: true });
      });
      this.reload();
      this.sweepTimer = setInterval(() => {
        this.reload();
        this.wakeAll();
      }, this.settings.sweepMs);
      this.sweepTimer.unref();
      await lost;
      clearInterval(this.sweepTimer);
      await this.reloading;
      await Promise.all([...this.workers.values()].map((w) => w.stop()));
      this.workers.clear();
      this.badges.clear();
      await this.lease.release();
    }
  }

  /** Brings the workers in line with hs_pushers (coalesced: one reload at a time). */
  private reload(): void {
    this.reloading = this.reloading
      .then(async () => {
        if (this.abort.signal.aborted || !this.lease.held) return;
        const current = await this.deps.pushers.httpPushers();
        const wanted = new Map(current.map((p) => [pusherKey(p), p]));
        for (const [key, worker] of this.workers) {
          if (wanted.has(key)) continue;
          this.workers.delete(key);
          await worker.stop();
        }
        for (const [key, p] of wanted) {
          const existing = this.workers.get(key);
          if (existing) {
            existing.update(p);
            continue;
          }
          const worker = new PusherWorker(
            {
              pushers: this.deps.pushers,
              notifications: this.deps.notifications,
              badges: this.badges,
              cache: this.deps.cache,
              slots: this.slots!,
              gateway: this.gateway,
              timings: this.settings,
              head: () => this.head(),
              gone: (w) => {
                if (this.workers.get(w.key) === w) this.workers.delete(w.key);
              },
              log: this.deps.log,
            },
            p,
          );
          this.workers.set(key, worker);
          worker.start();
        }
      })
      .catch((err) => this.deps.log?.warn({ err }, 'reloading pushers failed'));
  }

  private async head(): Promise<number> {
    const { rows } = await this.deps.db.query<{ m: string | null }>('SELECT max(stream_ordering) AS m FROM hs_events');
    return Number(rows[0]?.m ?? 0);
  }

  private wakeAll(): void {
    for (const w of this.workers.values()) w.wake();
  }

  /** A user's own read receipts change their badge: their pushers send a badge update. */
  private noteReceipts(msg: StreamWakeUp): void {
    if (msg.stream !== 'receipts' || !this.lease.held) return;
    // m.read names its owner in actors; a private receipt (m.read.private) wakes its owner only.
    const readers = new Set(msg.actors ?? msg.userIds ?? []);
    for (const reader of readers) this.badges.invalidate(reader);
    for (const w of this.workers.values()) if (readers.has(w.pusher.user_id)) w.receiptMoved();
  }

  /** Collects the rooms and targeted users of committed events; routed to workers in batches. */
  private noteEvents(msg: RoomEventsWakeUp): void {
    if (!this.lease.held || this.workers.size === 0) return;
    for (const r of msg.rooms) this.pendingRooms.add(r);
    for (const u of msg.users ?? []) this.pendingUsers.add(u);
    if (!this.routing) void this.route();
  }

  /** Wakes the pushers of users joined to the changed rooms (one query per batch of wake-ups). */
  private async route(): Promise<void> {
    this.routing = true;
    try {
      while (this.pendingRooms.size || this.pendingUsers.size) {
        const rooms = [...this.pendingRooms];
        const users = new Set(this.pendingUsers);
        this.pendingRooms.clear();
        this.pendingUsers.clear();
        const owners = [...new Set([...this.workers.values()].map((w) => w.pusher.user_id))];
        if (rooms.length && owners.length) {
          const { rows } = await this.deps.db.query<{ user_id: string }>(
            `SELECT DISTINCT user_id FROM hs_memberships WHERE room_id = ANY($1) AND membership = 'join' AND user_id = ANY($2)`,
            [rooms, owners],
          );
          for (const r of rows) users.add(r.user_id);
        }
        for (const w of this.workers.values()) if (users.has(w.pusher.user_id)) w.wake();
      }
    } catch (err) {
      // Nothing is lost: each pusher reads from its stored position, so waking them all is safe.
      this.deps.log?.warn({ err }, 'routing push wake-ups failed');
      this.wakeAll();
    } finally {
      this.routing = false;
    }
  }
}
