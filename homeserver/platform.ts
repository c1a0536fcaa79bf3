import type { FastifyInstance } from 'fastify';
import type { Registry as MetricsRegistry } from 'prom-client';
import type { Config } from './config-schema.js';
import { buildApp } from './http/app.js';
import { createLogger, type Logger } from './runtime/logger.js';
import { createRuntimeFromConfig } from './runtime/create-runtime.js';
import type { Runtime } from './runtime/ports.js';
import { createServices, type Services } from './services/services.js';
import { loadOrCreateSigningKey } from './services/signing-keys.js';
import type { Db } from './storage/db.js';
import { migrateAll, openDatabase } from './storage/open-database.js';
import { registryFromConfig } from '../appservice-api/registry.js';
import { AppserviceDelivery } from '../appservice-api/delivery/delivery.js';
import { closeOnSignals } from './close-on-signals.js';
import { runsRole } from './roles.js';
import { startConfiguredMetricsListener } from './metrics/metrics-listener.js';
import { startConfiguredBridges } from './configured-bridges.js';
import { createPlatformMetrics } from './metrics/platform-metrics.js';

export interface Platform {
  app: FastifyInstance;
  /** Appservice delivery (absent when no registry is wired). */
  delivery?: AppserviceDelivery;
  services: Services;
  db: Db;
  runtime: Runtime;
  log: Logger;
  /** The process's metrics registry (bridges register on it; served with the delivery's own at GET /metrics). */
  metrics: MetricsRegistry;
  /** The metrics listener (`metrics.enabled`), its own port, closed with the platform. */
  metricsListener?: FastifyInstance;
  /** Stops accepting requests, finishes in-flight writes, then closes the runtime and database. */
  close(): Promise<void>;
}

export interface PlatformOptions {
  config: Config;
  log?: Logger;
  /** An already-open database (tests pass one with its own schema). */
  db?: Db;
}

/**
 * The composition root of a homeserver process, over one database and one runtime: the services,
 * the client API app (listened on by runPlatform when the process has the client_api role) and
 * appservice delivery (its loops started only with the appservice_delivery role; see roles.ts).
 */
export async function createPlatform(opts: PlatformOptions): Promise<Platform> {
  const { config } = opts;
  const log = opts.log ?? createLogger(config.log.level);
  const db = opts.db ?? (await openDatabase(config.database, log));
  await migrateAll(db);
  const runtime = createRuntimeFromConfig(config.runtime);
  const metrics = createPlatformMetrics(config.metrics.enabled);
  const signingKey = await loadOrCreateSigningKey(db);
  const appservices = registryFromConfig(config, { db, pubsub: runtime.pubsub, log });
  await appservices.start();
  const services = createServices({ config, db, runtime, log, signingKey, appservices });
  await services.start();
  // Appservice delivery: one loop per registration with a url, leased per appservice (see delivery.ts).
  const delivery = services.appservices
    ? new AppserviceDelivery({
        db,
        pubsub: runtime.pubsub,
        registry: services.appservices,
        serverName: config.server_name,
        log,
        sources: {
          receipts: services.receipts,
          typing: services.typing,
          presence: services.userData.presence,
          otkCounts: (userId, deviceId) => services.e2e.keys.otkCounts(userId, deviceId),
        },
      })
    : undefined;
  if (delivery) {
    services.appserviceDelivery = delivery;
    // Queries, ping and third-party lookups answer in every process; the delivery loops are the role.
    if (runsRole(config, 'appservice_delivery')) await delivery.start();
  }
  const app = await buildApp(services);
  let closed = false;
  const platform: Platform = {
    app,
    delivery,
    services,
    db,
    runtime,
    log,
    metrics,
    async close() {
      if (closed) return;
      closed = true;
      await platform.metricsListener?.close();
      await services.notifier.stop(); // open long-polls answer now rather than at their timeout
      // Returns once in-flight requests are answered: idle and never-used client connections are
      // closed by the app itself, and requests still running after a grace period are cut
      // (http/connections.ts).
      await app.close();
      await services.drain();
      await delivery?.stop();
      await appservices.stop();
      await runtime.close();
      if (!opts.db) await db.close();
    },
  };
  const registries = [metrics, ...(delivery ? [delivery.metrics.registry] : [])];
  platform.metricsListener = await startConfiguredMetricsListener(config.metrics, registries).catch(async (err: unknown) => {
    await platform.close();
    throw err;
  });
  if (platform.metricsListener) {
    const { port } = platform.metricsListener.server.address() as { port: number };
    log.info({ url: `http://${config.metrics.listen_host}:${port}/metrics` }, 'metrics listener started');
  }
  return platform;
}

/**
 * `causeway start` for a process with a homeserver role (client_api or appservice_delivery; a
 * bridges-only process is homeserver/bridge-worker.ts): runs the roles of `config.roles`, and shuts
 * down gracefully on SIGTERM/SIGINT.
 */
export async function runPlatform(config: Config): Promise<Platform> {
  const platform = await createPlatform({ config });
  // Without client_api the process serves no clients: it leaves the client port to the processes that do.
  let homeserverUrl: string | undefined;
  if (runsRole(config, 'client_api')) {
    await platform.app.listen({ host: config.listen.host, port: config.listen.port });
    const localHost = config.listen.host === '0.0.0.0' || config.listen.host === '::' ? '127.0.0.1' : config.listen.host;
    homeserverUrl = `http://${localHost}:${(platform.app.server.address() as { port: number }).port}`;
  }
  // Bridges talk to the homeserver over its Client-Server API, so they start once it listens and stop first.
  const stopBridges = await startConfiguredBridges(config, {
    db: platform.db,
    runtime: platform.runtime,
    log: platform.log,
    homeserverUrl,
    registry: platform.services.appservices!,
    metrics: platform.metrics,
  }).catch(async (err) => {
    await platform.close();
    throw err;
  });
  const closePlatform = platform.close;
  platform.close = async () => (await stopBridges(), await closePlatform());
  platform.log.info(
    { url: homeserverUrl && `http://${config.listen.host}:${config.listen.port}`, server_name: config.server_name, roles: config.roles },
    homeserverUrl ? 'Causeway is listening' : 'Causeway is running',
  );
  closeOnSignals(platform, platform.log);
  return platform;
}
