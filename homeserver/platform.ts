import type { FastifyInstance } from 'fastify';
import type { Config } from './config-schema.js';
import { buildApp } from './http/app.js';
import { createLogger, type Logger } from './runtime/logger.js';
import { createRuntime } from './runtime/create-runtime.js';
import type { Runtime } from './runtime/ports.js';
import { createServices, type Services } from './services/services.js';
import { loadOrCreateSigningKey } from './services/signing-keys.js';
import type { Db } from './storage/db.js';
import { migrateAll, openDatabase } from './storage/open-database.js';
import { Registry } from '../appservice-api/registry.js';
import { AppserviceDelivery } from '../appservice-api/delivery/delivery.js';
import { runBridges } from '../bridges/core/run-bridges.js';

export interface Platform {
  app: FastifyInstance;
  /** Appservice delivery (absent when no registry is wired). */
  delivery?: AppserviceDelivery;
  services: Services;
  db: Db;
  runtime: Runtime;
  log: Logger;
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
 * The composition root: builds every role of the single-process platform over one database and
 * one runtime. The client API is the only role so far; appservice delivery and the bridges join
 * here as further roles.
 */
export async function createPlatform(opts: PlatformOptions): Promise<Platform> {
  const { config } = opts;
  const log = opts.log ?? createLogger(config.log.level);
  const db = opts.db ?? (await openDatabase(config.database, log));
  await migrateAll(db);
  const runtime =
    config.runtime.transport === 'redis'
      ? createRuntime({ transport: 'redis', redisUrl: config.runtime.redis_url!, prefix: config.runtime.redis_prefix })
      : createRuntime({ transport: 'memory' });
  const signingKey = await loadOrCreateSigningKey(db);
  const appservices = new Registry({
    db,
    pubsub: runtime.pubsub,
    serverName: config.server_name,
    registrationFiles: config.appservices.registration_files,
    log,
  });
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
    await delivery.start();
  }
  const app = await buildApp(services);
  let closed = false;
  return {
    app,
    delivery,
    services,
    db,
    runtime,
    log,
    async close() {
      if (closed) return;
      closed = true;
      // app.close() waits for in-flight requests, but keep-alive connections that go idle after
      // answering would hold it open until their timeout: close each one as soon as it is idle.
      const sweeper = setInterval(() => app.server.closeIdleConnections(), 50);
      await services.notifier.stop(); // open long-polls answer now rather than at their timeout
      try {
        await app.close();
      } finally {
        clearInterval(sweeper);
      }
      await services.drain();
      await delivery?.stop();
      await appservices.stop();
      await runtime.close();
      if (!opts.db) await db.close();
    },
  };
}

/** `causeway start`: listen, and shut down gracefully on SIGTERM/SIGINT. */
export async function runPlatform(config: Config): Promise<Platform> {
  const platform = await createPlatform({ config });
  await platform.app.listen({ host: config.listen.host, port: config.listen.port });
  // Bridges talk to the homeserver over its Client-Server API, so they start once it listens and stop first.
  const localHost = config.listen.host === '0.0.0.0' || config.listen.host === '::' ? '127.0.0.1' : config.listen.host;
  const port = (platform.app.server.address() as { port: number }).port;
  const stopBridges = await runBridges({
    bridges: config.bridges,
    db: platform.db,
    runtime: platform.runtime,
    log: platform.log,
    serverName: config.server_name,
    homeserverUrl: `http://${localHost}:${port}`,
    registry: platform.services.appservices!,
  }).catch(async (err) => {
    await platform.close();
    throw err;
  });
  const closePlatform = platform.close;
  platform.close = async () => (await stopBridges(), await closePlatform());
  platform.log.info(
    { url: `http://${config.listen.host}:${config.listen.port}`, server_name: config.server_name },
    'Causeway is listening',
  );
  const stop = (signal: string) => {
    platform.log.info({ signal }, 'shutting down');
    platform
      .close()
      .then(() => process.exit(0))
      .catch((err) => {
        platform.log.error({ err }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  return platform;
}
