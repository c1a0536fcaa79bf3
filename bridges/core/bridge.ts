import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { registerInprocAppservice } from '../../appservice-api/transports/inproc.js';
import type { Logger } from '../../homeserver/runtime/logger.js';
import type { Runtime } from '../../homeserver/runtime/ports.js';
import type { Db } from '../../homeserver/storage/db.js';
import { migrate } from '../../homeserver/storage/migrate.js';
import type { BridgeConfig } from './config-schema.js';
import { parseGhostMxid } from './ids.js';
import { newWorkerToken } from './login/process-id.js';
import { LoginDirectory } from './login-directory.js';
import { catchUpLogin, makeContextFor, type KeyStores } from './login-wiring.js';
import { Ghosts } from './matrix/ghosts.js';
import { buildAppserviceListener } from './matrix/http-listener.js';
import { MatrixSide } from './matrix/matrix-side.js';
import { fileRegistrar, loadOrCreateTokens, registrationDocument, type Registrar } from './matrix/registration.js';
import { TransactionReceiver } from './matrix/transaction-receiver.js';
import { whoamiVerifier } from './matrix/verify-token.js';
import { MatrixIntake } from './matrix-intake.js';
import { BridgeMetrics } from './metrics/bridge-metrics.js';
import type { NetworkConnector } from './network/network-connector.js';
import { Outbox, type OutboxOptions } from './outbox/outbox.js';
import { OutboxStore } from './outbox/outbox-store.js';
import { OutboxWorkers } from './outbox/outbox-workers.js';
import type { PortalDeps } from './portal/portal-deps.js';
import { Portals } from './portal/portals.js';
import { makeProvisioningDeps, type BridgeProvisioningDeps } from './provisioning-deps.js';
import { SessionPool, type SessionPoolOptions } from './session-pool/session-pool.js';
import { BRIDGE_MIGRATIONS } from './storage/bridge-migrations.js';
import { GhostStore } from './storage/ghosts.js';
import { MessageStore } from './storage/messages.js';
import { PortalStore } from './storage/portals.js';
import { ReactionStore } from './storage/reactions.js';
import { UserPortalStore } from './storage/user-portals.js';
import { UserLoginStore } from './storage/user-logins.js';

export interface BridgeOptions {
  db: Db;
  runtime: Runtime;
  log: Logger;
  connector: NetworkConnector;
  config: BridgeConfig;
  /** Client-Server API base URL of the homeserver. */
  homeserverUrl: string;
  serverName: string;
  /** The crypto store (CryptoStore): every login's credentials and keys, sealed. */
  keys: KeyStores;
  /** Hands the registration to the homeserver (e.g. registryRegistrar(platform registry)). */
  registrar: Registrar;
  /** The process's metrics registry (the platform's): pool and bridge metrics, labelled by bridge_id. Default: none. */
  metrics?: Registry;
  /** Checks a user's access token for the provisioning API; default: the homeserver's /account/whoami. */
  verifyAccessToken?(token: string): Promise<string | undefined>;
  /** Session pool tuning (tests shorten leases and jitter). */
  pool?: Partial<
    Pick<SessionPoolOptions, 'leaseTtlMs' | 'renewIntervalMs' | 'connectJitterMs' | 'connectConcurrency' | 'balance' | 'metrics'>
  >;
  outbox?: Partial<Pick<OutboxOptions, 'pollMs' | 'claimMs' | 'queueExpiryMs' | 'pruneIntervalMs'>>;
}

/**
 * One network's bridge in this process: the composition of the portal engine (stores, Matrix
 * side, portals, outbox, intake), the session pool and the provisioning deps. It holds no logic
 * of its own beyond start/stop order.
 */
export class Bridge {
  readonly id: string;
  readonly workerId = `${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`;
  /**
   * This worker's address on the login relay (random, unlike workerId it says nothing about the
   * host: clients see it inside process ids). On the leases too, so any worker can reach the
   * one running a login's session.
   */
  readonly workerToken = newWorkerToken();
  portalDeps!: PortalDeps;
  portals!: Portals;
  outbox!: Outbox;
  pool!: SessionPool;
  provisioning!: BridgeProvisioningDeps;
  /** Event rates, delivery failures and queue depths (a no-op without a registry); the outbox reports its sends here too. */
  metrics!: BridgeMetrics;
  private intake!: MatrixIntake;
  private unwatchQueues?: () => void;
  private stopInbound?: () => Promise<void>;
  private listener?: FastifyInstance;

  constructor(private o: BridgeOptions) {
    this.id = o.config.id;
  }

  async start(): Promise<void> {
    const { db, runtime, log, config, connector } = this.o;
    const id = config.id;
    const registry = this.o.metrics ?? this.o.pool?.metrics;
    this.metrics = new BridgeMetrics(registry, id);
    await migrate(db, [BRIDGE_MIGRATIONS]);
    const tokens = await loadOrCreateTokens(db, id);
    const ap = config.appservice;
    const url = ap.mode === 'inproc' ? `inproc://${id}` : (ap.url ?? `http://${ap.listen_host}:${ap.listen_port}`);
    const doc = registrationDocument({ bridgeId: id, networkId: connector.networkId, serverName: this.o.serverName, url, ...tokens });
    await this.o.registrar(doc);
    if (ap.registration_file) await fileRegistrar(ap.registration_file)(doc);

    const matrix = new MatrixSide({
      homeserverUrl: this.o.homeserverUrl,
      asToken: tokens.asToken,
      bridgeId: id,
      serverName: this.o.serverName,
      log,
    });
    await matrix.start();
    const userLogins = new UserLoginStore(db, id);
    const directory = new LoginDirectory();
    const pd: PortalDeps = {
      bridgeId: id,
      serverName: this.o.serverName,
      networkId: connector.networkId,
      networkName: connector.displayName,
      portals: new PortalStore(db, id),
      messages: new MessageStore(db, id),
      reactions: new ReactionStore(db, id),
      userPortals: new UserPortalStore(db, id),
      userLogins,
      matrix,
      ghosts: new Ghosts({ store: new GhostStore(db, id), matrix, bridgeId: id, serverName: this.o.serverName, log }),
      logins: directory,
      backfillLimit: config.backfill.initial_limit,
      log,
    };
    this.portalDeps = pd;
    this.portals = new Portals(pd, {
      maxQueue: config.queues.max_per_portal,
      maxCached: config.queues.max_cached_portals,
      metrics: this.metrics,
    });
    this.outbox = new Outbox({
      store: new OutboxStore(db, id),
      workers: new OutboxWorkers(db, id),
      runtime,
      portalDeps: pd,
      portals: this.portals,
      logins: directory,
      workerId: this.workerId,
      log,
      metrics: this.metrics,
      options: {
        maxAttempts: config.outbox.max_attempts,
        baseBackoffMs: config.outbox.base_backoff_ms,
        maxBackoffMs: config.outbox.max_backoff_ms,
        claimMs: this.o.outbox?.claimMs ?? 30_000,
        pollMs: this.o.outbox?.pollMs ?? 2_000,
        retentionMs: config.outbox.retention_hours * 3_600_000,
        // Well past the lease TTL: until a dead worker's leases expire, jobs may still be routed to its queue.
        queueExpiryMs: this.o.outbox?.queueExpiryMs ?? 300_000,
        ...(this.o.outbox?.pruneIntervalMs ? { pruneIntervalMs: this.o.outbox.pruneIntervalMs } : {}),
      },
    });
    this.pool = new SessionPool({
      db,
      pubsub: runtime.pubsub,
      log,
      bridgeId: id,
      workerId: this.workerId,
      workerToken: this.workerToken,
      connector,
      logins: userLogins,
      contextFor: makeContextFor({
        portalDeps: pd,
        portals: this.portals,
        directory,
        keys: this.o.keys,
        client: (loginId) => this.pool.client(loginId),
      }),
      ...this.o.pool,
      metrics: registry,
    });
    // A connected login: sends that waited for it go out, and messages missed meanwhile come in.
    // Catch-up is queued on the portals first, so the outbox's sends line up behind it (see LoginDirectory.sendable).
    this.pool.onStateChange((loginId, state) => {
      if (state.stateEvent !== 'CONNECTED') return directory.setCaughtUp(loginId, false);
      const handle = directory.get(loginId);
      if (!handle) return;
      catchUpLogin(pd, this.portals, handle)
        .catch((err) => log.warn({ err, loginId }, 'catch-up failed'))
        .finally(() => {
          directory.setCaughtUp(loginId, true);
          this.outbox.wake(loginId);
        });
    });
    this.provisioning = makeProvisioningDeps({
      portalDeps: pd,
      portals: this.portals,
      directory,
      pool: this.pool,
      connector,
      keys: this.o.keys,
      workerToken: this.workerToken,
      pubsub: runtime.pubsub,
      onError: (err, context) => log.warn({ err }, context),
      ...(config.provisioning.shared_secret ? { sharedSecret: config.provisioning.shared_secret } : {}),
      verifyAccessToken: this.o.verifyAccessToken ?? whoamiVerifier(this.o.homeserverUrl),
    });
    this.intake = new MatrixIntake({
      portalDeps: pd,
      portals: this.portals,
      outbox: this.outbox,
      logins: directory,
      pubsub: runtime.pubsub,
      metrics: this.metrics,
    });
    this.unwatchQueues = this.metrics.watchQueues({
      portalQueued: () => this.portals.queuedCount(),
      outboxPending: () => this.outbox.pendingCount(),
    });
    await this.intake.start();
    await this.outbox.start();
    await this.pool.start();
    await this.startInbound(tokens.hsToken);
    // Login steps for processes of this worker, and login calls for its sessions, may now arrive
    // from the bridge's other workers (until then they get the unreachable answer).
    await this.provisioning.relay.start();
    log.info({ bridge: id, network: connector.networkId, mode: ap.mode }, 'bridge started');
  }

  /** Both transports feed one TransactionReceiver: inproc in one process, an HTTP listener in a cluster. */
  private async startInbound(hsToken: string): Promise<void> {
    const receiver = new TransactionReceiver(this.intake);
    const ap = this.o.config.appservice;
    if (ap.mode === 'inproc') {
      const unregister = registerInprocAppservice(this.id, {
        onTransaction: (txnId, body) => receiver.receive(txnId, body),
        onUserQuery: (userId) => this.queryUser(userId),
        onPing: () => undefined,
      });
      this.stopInbound = async () => unregister();
      return;
    }
    this.listener = buildAppserviceListener({
      hsToken,
      receiver,
      userExists: (userId) => this.queryUser(userId),
    });
    await this.listener.listen({ host: ap.listen_host, port: ap.listen_port });
    this.stopInbound = async () => this.listener?.close();
  }

  /**
   * The homeserver's user query (spec: the appservice creates the user before answering yes): any
   * id in the bridge's namespace that decodes to a remote id is a ghost, registered on demand.
   */
  private async queryUser(userId: string): Promise<boolean> {
    if (!parseGhostMxid(this.id, this.o.serverName, userId)) return false;
    await this.portalDeps.matrix.intent(userId).register();
    return true;
  }

  /** The HTTP listener's port (mode 'http'; useful with listen_port 0). */
  get listenerPort(): number | undefined {
    const addr = this.listener?.server.address();
    return addr && typeof addr === 'object' ? addr.port : undefined;
  }

  /**
   * Stops in an order that loses nothing: no new transactions (the homeserver keeps and retries
   * them), no new outbox claims, queued remote events applied while clients still run, then the
   * sessions end (leases released for other workers), then whatever they emitted last.
   */
  async stop(): Promise<void> {
    await this.stopInbound?.();
    this.provisioning?.processes.close();
    // After close(): the steps other workers forwarded here end, and their answers go out first.
    await this.provisioning?.relay.stop();
    await this.outbox?.stop();
    await this.portals?.idle();
    await this.pool?.stop();
    await this.portals?.idle();
    await this.intake?.stop();
    this.unwatchQueues?.();
    this.o.log.info({ bridge: this.id }, 'bridge stopped');
  }
}
