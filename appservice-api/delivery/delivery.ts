import { abortableSleep } from '../../homeserver/runtime/abortable-sleep.js';
import type { AppserviceRegistration, AppserviceRegistry } from '../../homeserver/services/appservices/registry-port.js';
import type { Db } from '../../homeserver/storage/db.js';
import { SessionLockConnection, type SessionLease } from '../../homeserver/storage/session-lease.js';
import type { PubSub } from '../../homeserver/runtime/ports.js';
import type { Logger } from '../../homeserver/runtime/logger.js';
import { ROOM_EVENTS_TOPIC } from '../../homeserver/services/sync/notifier.js';
import { STREAM_TOPIC, type StreamWakeUp } from '../../homeserver/services/sync/stream-source.js';
import { EVENT_COLUMNS, EVENT_JOINS, toClientEvent, type EventRow } from '../../homeserver/services/rooms/client-event.js';
import { transportFor, type AppserviceTransport, type TransactionBody, TransportError } from '../transports/transport.js';
import { appserviceOwnsUser, InterestMatcher, loadRoomFacts, type CandidateEvent } from './interest.js';
import { DeliveryMetrics } from './metrics.js';
import { ThirdPartyLookup } from '../thirdparty.js';
import type { ThirdPartyRequest } from '../../homeserver/services/appservices/thirdparty-port.js';
import { completePositions, readSideStreams, sideHeads, type SidePositions, type SideSources } from './side-streams.js';

export interface DeliveryOptions {
  db: Db;
  pubsub: PubSub;
  registry: AppserviceRegistry;
  serverName: string;
  log?: Logger;
  /** Events per transaction (spec-wise unbounded; we cap at 100). */
  maxBatch?: number;
  /** hs_events rows examined per step when looking for interesting ones. */
  scanLimit?: number;
  /** Backoff caps: loopback / inproc targets stay short, remote ones back off to minutes. */
  backoffBaseMs?: number;
  localBackoffCapMs?: number;
  remoteBackoffCapMs?: number;
  /** HTTP timeout per transaction. */
  httpTimeoutMs?: number;
  /** How often a process without an appservice's lease tries to take it over. */
  leaseRetryMs?: number;
  /** Homeserver reads for receipts, typing, presence and one-time-key counts (see side-streams.ts). */
  sources?: SideSources;
}

interface DeliveryState {
  position: number;
  txnCounter: number;
  pendingTxnId: string | null;
  pendingTo: number | null;
  pendingEventIds: string[] | null;
  /** Positions of the side streams (receipts, typing, presence, to-device, device lists). */
  streams: SidePositions;
  pendingStreams: SidePositions | null;
  /** The pending transaction's body sections besides `events`, exactly as first sent. */
  pendingSections: Record<string, unknown> | null;
}

/** Which wake-ups concern which loops: MSC2409 streams for receive_ephemeral, MSC3202 for device lists. */
const EPHEMERAL_STREAMS = new Set(['typing', 'receipts', 'presence', 'to_device']);

/**
 * Durable, ordered, at-least-once delivery of room events to appservices (one independent loop per
 * appservice, so a slow one never delays another).
 *
 * Position and the transaction in flight are rows of as_delivery_state: a transaction is written
 * (txnId, event ids, position after it) BEFORE it is sent, and the position moves only after the
 * appservice acknowledged it, so a failure or a restart re-sends the same txnId with the same events.
 * The side streams (MSC2409 ephemeral and to-device, MSC3202 device lists: side-streams.ts) ride in
 * the same transactions with their own positions, stored and moved the same way.
 *
 * Lease: a session lease per appservice (storage/session-lease.ts), all of this process's on one
 * dedicated connection: a delivery loop runs forever, and Postgres releases the lease when the
 * process dies (its connection drops), so another process takes over without any expiry to tune.
 * Processes without the lease retry every leaseRetryMs.
 */
export class AppserviceDelivery {
  readonly metrics = new DeliveryMetrics();
  private loops = new Map<string, DeliveryLoop>();
  /** Loops being stopped (url or hs_token changed): their successor starts only once they are done. */
  private stopping = new Map<string, Promise<void>>();
  private unsubscribe: (() => Promise<void>)[] = [];
  private offChange?: () => void;
  /** The connection holding this process's appservice leases. */
  readonly leases: SessionLockConnection;
  private stopped = false;
  private thirdPartyLookup?: ThirdPartyLookup;
  /** The highest committed room-event position announced (for lag in events). */
  headPosition = 0;
  readonly opts: Required<Omit<DeliveryOptions, 'log'>> & { log?: Logger };

  constructor(opts: DeliveryOptions) {
    this.opts = {
      maxBatch: 100,
      scanLimit: 2000,
      backoffBaseMs: 50,
      localBackoffCapMs: 1000,
      remoteBackoffCapMs: 300_000,
      httpTimeoutMs: 30_000,
      leaseRetryMs: 2000,
      sources: {},
      ...opts,
    };
    this.leases = new SessionLockConnection(opts.db, opts.log);
  }

  async start(): Promise<void> {
    this.unsubscribe.push(
      await this.opts.pubsub.subscribe(ROOM_EVENTS_TOPIC, (msg) => {
        const m = msg as { position: number };
        if (m.position > this.headPosition) this.headPosition = m.position;
        for (const loop of this.loops.values()) loop.wake();
      }),
      await this.opts.pubsub.subscribe(STREAM_TOPIC, (msg) => {
        const m = msg as StreamWakeUp;
        const ephemeral = EPHEMERAL_STREAMS.has(m.stream);
        if (!ephemeral && m.stream !== 'device_lists') return;
        for (const loop of this.loops.values()) if (ephemeral ? loop.reg.receiveEphemeral : loop.reg.msc3202) loop.wake();
      }),
    );
    const { rows } = await this.opts.db.query<{ m: number | null }>('SELECT max(stream_ordering) AS m FROM hs_events');
    this.headPosition = Math.max(this.headPosition, rows[0]?.m ?? 0);
    this.offChange = this.opts.registry.onChange(() => this.sync());
    this.sync();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.offChange?.();
    for (const u of this.unsubscribe.splice(0)) await u();
    await Promise.all([...this.loops.values()].map((l) => l.stop()));
    this.loops.clear();
    await Promise.all(this.stopping.values());
    await this.leases.close(); // releases every lease this process held
  }

  /** Wakes every loop now (tests; events committed by another process arrive via pubsub anyway). */
  wakeAll(): void {
    for (const loop of this.loops.values()) loop.wake();
  }

  /** The loop of an appservice (tests and the admin API inspect it). */
  loop(id: string): DeliveryLoop | undefined {
    return this.loops.get(id);
  }

  /** Starts loops for new registrations (with a url), stops those removed or whose url/token changed. */
  private sync(): void {
    if (this.stopped) return;
    const wanted = new Map(
      this.opts.registry
        .all()
        .filter((r) => r.url)
        .map((r) => [r.id, r] as const),
    );
    for (const [id, loop] of this.loops) {
      const reg = wanted.get(id);
      if (!reg || reg.url !== loop.initial.url || reg.hsToken !== loop.initial.hsToken) {
        this.loops.delete(id);
        const previous = this.stopping.get(id) ?? Promise.resolve();
        const done = previous
          .then(() => loop.stop())
          .then(() => loop.lease.release())
          .finally(() => {
            if (this.stopping.get(id) === done) this.stopping.delete(id);
          });
        this.stopping.set(id, done);
      }
    }
    for (const [id, reg] of wanted) {
      if (this.loops.has(id)) continue;
      const transport = transportFor(reg, { timeoutMs: this.opts.httpTimeoutMs });
      if (!transport) continue;
      const loop = new DeliveryLoop(this, reg, transport);
      this.loops.set(id, loop);
      // Never two loops of one appservice at once: the old one may still be sending (the same
      // txnId, which the new one re-sends from Postgres once it has the lease).
      loop.start(this.stopping.get(id));
    }
  }

  /** GET /_matrix/app/v1/users/{userId} on the appservice owning the user's namespace: whether it now exists. */
  async queryUser(userId: string): Promise<boolean> {
    for (const reg of this.opts.registry.all()) {
      if (!reg.namespaces.users.some((ns) => ns.regex.test(userId))) continue;
      const t = transportFor(reg, { timeoutMs: this.opts.httpTimeoutMs });
      if (t && (await t.queryUser(userId).catch(() => false))) return true;
    }
    return false;
  }

  /** GET /_matrix/app/v1/rooms/{alias} on the appservice owning the alias's namespace: whether it created the room. */
  async queryAlias(alias: string): Promise<boolean> {
    for (const reg of this.opts.registry.all()) {
      if (!reg.namespaces.aliases.some((ns) => ns.regex.test(alias))) continue;
      const t = transportFor(reg, { timeoutMs: this.opts.httpTimeoutMs });
      if (t && (await t.queryAlias(alias).catch(() => false))) return true;
    }
    return false;
  }

  /** Third-party lookups (GET /_matrix/client/v3/thirdparty/...), proxied to the appservices declaring the protocol. */
  thirdParty(req: ThirdPartyRequest): Promise<unknown> {
    this.thirdPartyLookup ??= new ThirdPartyLookup(this.opts.registry, {
      timeoutMs: Math.min(this.opts.httpTimeoutMs, 10_000),
      log: this.opts.log,
    });
    return this.thirdPartyLookup.thirdParty(req);
  }

  /**
   * MSC2659 / spec v1.7 `POST /_matrix/client/v1/appservice/{appserviceId}/ping`, already
   * authenticated as `caller`. Returns the HTTP status and body the homeserver answers with.
   */
  async ping(
    caller: AppserviceRegistration,
    appserviceId: string,
    transactionId?: string,
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    if (caller.id !== appserviceId) {
      return { status: 403, body: { errcode: 'M_FORBIDDEN', error: 'The access token does not belong to this appservice' } };
    }
    const transport = transportFor(caller, { timeoutMs: Math.min(this.opts.httpTimeoutMs, 10_000) });
    if (!transport) return { status: 400, body: { errcode: 'M_URL_NOT_SET', error: 'The appservice has no url' } };
    const started = performance.now();
    try {
      await transport.ping(transactionId);
    } catch (err) {
      if (err instanceof TransportError && err.status !== undefined) {
        return {
          status: 502,
          body: {
            errcode: 'M_BAD_STATUS',
            error: 'The appservice returned an error',
            status: err.status,
            body: JSON.stringify(err.body ?? ''),
          },
        };
      }
      const timedOut = /timeout|aborted/i.test((err as Error).message);
      return timedOut
        ? { status: 504, body: { errcode: 'M_CONNECTION_TIMEOUT', error: 'The appservice did not answer in time' } }
        : { status: 502, body: { errcode: 'M_CONNECTION_FAILED', error: `Cannot reach the appservice: ${(err as Error).message}` } };
    }
    return { status: 200, body: { duration_ms: Math.round(performance.now() - started) } };
  }
}

/** One appservice's delivery: at most one transaction in flight, strictly in stream order. */
export class DeliveryLoop {
  private abort = new AbortController();
  private running?: Promise<void>;
  private dirty = true;
  private wakeUp?: () => void;
  /** This appservice's lease; its holder alone delivers to it. */
  readonly lease: SessionLease;
  private state?: DeliveryState;
  /** Consecutive failures of the current transaction (drives the backoff). */
  failures = 0;

  constructor(
    private svc: AppserviceDelivery,
    readonly initial: AppserviceRegistration,
    private transport: AppserviceTransport,
  ) {
    this.lease = svc.leases.lease(`as_delivery:${initial.id}`);
    // The state is reloaded once the lease is taken again: another process may have moved it.
    this.lease.onLost(() => {
      this.state = undefined;
    });
  }

  /** The current registration (namespaces or receive_ephemeral may change at runtime; a new url or hs_token restarts the loop). */
  get reg(): AppserviceRegistration {
    return this.svc.opts.registry.byId(this.initial.id) ?? this.initial;
  }

  /** Runs once `after` (the previous loop of this appservice stopping) has settled. */
  start(after?: Promise<void>): void {
    this.running = (after ?? Promise.resolve()).catch(() => undefined).then(() => this.run());
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.wakeUp?.();
    await this.running;
  }

  wake(): void {
    this.dirty = true;
    this.wakeUp?.();
  }

  get position(): number | undefined {
    return this.state?.position;
  }

  private get db() {
    return this.svc.opts.db;
  }

  private async run(): Promise<void> {
    const { signal } = this.abort;
    const labels = { appservice: this.reg.id };
    while (!signal.aborted) {
      try {
        if (!this.lease.held || !this.state) {
          if (!(await this.lease.tryAcquire())) {
            await abortableSleep(this.svc.opts.leaseRetryMs, signal);
            continue;
          }
          this.state = await this.loadState();
          this.dirty = true;
        }
        this.dirty = false;
        const progressed = await this.step();
        this.failures = 0;
        if (!progressed) await this.idle();
      } catch (err) {
        if (signal.aborted) break;
        this.failures++;
        this.svc.metrics.failures.inc(labels);
        const o = this.svc.opts;
        const cap = this.transport.local ? o.localBackoffCapMs : o.remoteBackoffCapMs;
        const delay = Math.min(cap, o.backoffBaseMs * 2 ** Math.min(this.failures - 1, 30));
        this.svc.opts.log?.warn({ err, appservice: this.reg.id, failures: this.failures, retryInMs: delay }, 'appservice delivery failed');
        await abortableSleep(delay, signal);
      }
    }
  }

  /** Waits for a wake-up unless one arrived since the last step. */
  private idle(): Promise<void> {
    if (this.dirty || this.abort.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      this.wakeUp = () => {
        this.wakeUp = undefined;
        resolve();
      };
    });
  }

  private async loadState(): Promise<DeliveryState> {
    // A new appservice starts at the current heads: it receives what happens from now on.
    await this.db.query(
      `INSERT INTO as_delivery_state (appservice_id, position, stream_positions, updated_ts)
       VALUES ($1, COALESCE((SELECT max(stream_ordering) FROM hs_events), 0), $2, $3)
       ON CONFLICT (appservice_id) DO NOTHING`,
      [this.reg.id, JSON.stringify(await sideHeads(this.db)), Date.now()],
    );
    const { rows } = await this.db.query<{
      position: number;
      txn_counter: number;
      pending_txn_id: string | null;
      pending_to: number | null;
      pending_event_ids: string[] | null;
      stream_positions: Record<string, number>;
      pending_stream_positions: Record<string, number> | null;
      pending_sections: Record<string, unknown> | null;
    }>(
      `SELECT position, txn_counter, pending_txn_id, pending_to, pending_event_ids, stream_positions, pending_stream_positions,
              pending_sections
         FROM as_delivery_state WHERE appservice_id = $1`,
      [this.reg.id],
    );
    const r = rows[0]!;
    const streams = await completePositions(this.db, r.stream_positions);
    return {
      position: Number(r.position),
      txnCounter: Number(r.txn_counter),
      pendingTxnId: r.pending_txn_id,
      pendingTo: r.pending_to === null ? null : Number(r.pending_to),
      pendingEventIds: r.pending_event_ids,
      streams,
      pendingStreams: r.pending_txn_id ? { ...streams, ...r.pending_stream_positions } : null,
      pendingSections: r.pending_sections,
    };
  }

  /** One transaction (or one skip over uninteresting events). False when there is nothing to do. */
  private async step(): Promise<boolean> {
    const st = this.state!;
    if (st.pendingTxnId) {
      await this.sendPending(st);
      return true;
    }
    const o = this.svc.opts;
    const reg = this.reg;
    const { rows } = await this.db.query<CandidateEvent>(
      `SELECT stream_ordering, event_id, room_id, sender, state_key FROM hs_events
        WHERE stream_ordering > $1 ORDER BY stream_ordering LIMIT $2`,
      [st.position, o.scanLimit],
    );
    const picked: string[] = [];
    const eventUsers = new Set<string>();
    let to = st.position;
    if (rows.length) {
      const facts = await loadRoomFacts(this.db, [...new Set(rows.map((r) => r.room_id))]);
      const matcher = new InterestMatcher(reg, o.serverName, facts);
      to = rows[rows.length - 1]!.stream_ordering;
      for (const r of rows) {
        if (!matcher.interested(r)) continue;
        picked.push(r.event_id);
        if (appserviceOwnsUser(reg, o.serverName, r.sender)) eventUsers.add(r.sender);
        if (picked.length === o.maxBatch) {
          to = r.stream_ordering;
          break;
        }
      }
    }
    const side = await readSideStreams({ db: this.db, serverName: o.serverName, sources: o.sources, limit: o.maxBatch }, reg, st.streams, [
      ...eventUsers,
    ]);
    if (!rows.length && !side.moved) {
      this.updateLag();
      return false;
    }
    const hasSections = Object.keys(side.sections).length > 0;
    if (!picked.length && !hasSections) {
      await this.db.query('UPDATE as_delivery_state SET position = $2, stream_positions = $3, updated_ts = $4 WHERE appservice_id = $1', [
        reg.id,
        to,
        JSON.stringify(side.to),
        Date.now(),
      ]);
      Object.assign(st, { position: to, streams: side.to });
      this.updateLag();
      return true;
    }
    const counter = st.txnCounter + 1;
    const txnId = String(counter);
    const sections = hasSections ? side.sections : null;
    // Written before it is sent: whatever happens next, this txnId is re-sent with this content.
    await this.db.query(
      `UPDATE as_delivery_state SET txn_counter = $2, pending_txn_id = $3, pending_to = $4, pending_event_ids = $5,
              pending_stream_positions = $6, pending_sections = $7, updated_ts = $8
        WHERE appservice_id = $1`,
      [reg.id, counter, txnId, to, picked, JSON.stringify(side.to), sections === null ? null : JSON.stringify(sections), Date.now()],
    );
    Object.assign(st, {
      txnCounter: counter,
      pendingTxnId: txnId,
      pendingTo: to,
      pendingEventIds: picked,
      pendingStreams: side.to,
      pendingSections: sections,
    });
    await this.sendPending(st);
    return true;
  }

  private async sendPending(st: DeliveryState): Promise<void> {
    const labels = { appservice: this.reg.id };
    const ids = st.pendingEventIds ?? [];
    const { rows } = ids.length
      ? await this.db.query<EventRow>(
          `SELECT ${EVENT_COLUMNS} FROM hs_events e ${EVENT_JOINS} WHERE e.event_id = ANY($1) ORDER BY e.stream_ordering`,
          [ids],
        )
      : { rows: [] as EventRow[] };
    const now = Date.now();
    const events = rows.map((r) => toClientEvent(r, undefined, now));
    const body: TransactionBody = { ...st.pendingSections, events };
    await this.transport.sendTransaction(st.pendingTxnId!, body, this.abort.signal);
    const to = st.pendingTo!;
    const streams = st.pendingStreams ?? st.streams;
    await this.db.query(
      `UPDATE as_delivery_state SET position = $2, stream_positions = $5, pending_txn_id = NULL, pending_to = NULL,
              pending_event_ids = NULL, pending_stream_positions = NULL, pending_sections = NULL, updated_ts = $3
        WHERE appservice_id = $1 AND pending_txn_id = $4`,
      [this.reg.id, to, Date.now(), st.pendingTxnId, JSON.stringify(streams)],
    );
    Object.assign(st, {
      position: to,
      streams,
      pendingTxnId: null,
      pendingTo: null,
      pendingEventIds: null,
      pendingStreams: null,
      pendingSections: null,
    });
    const acked = Date.now();
    const m = this.svc.metrics;
    m.transactions.inc(labels);
    m.batchSize.observe(labels, events.length);
    let oldest = acked;
    for (const e of events) {
      oldest = Math.min(oldest, e.origin_server_ts);
      m.eventLag.observe(labels, Math.max(0, acked - e.origin_server_ts) / 1000);
    }
    m.lagSeconds.set(labels, Math.max(0, acked - oldest) / 1000);
    this.updateLag();
  }

  private updateLag(): void {
    const st = this.state;
    if (!st) return;
    const behind = Math.max(0, this.svc.headPosition - st.position);
    this.svc.metrics.lagEvents.set({ appservice: this.reg.id }, behind);
    if (behind === 0 && !st.pendingTxnId) this.svc.metrics.lagSeconds.set({ appservice: this.reg.id }, 0);
  }
}
