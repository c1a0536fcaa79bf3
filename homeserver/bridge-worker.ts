import type { Config } from './config-schema.js';
import { closeOnSignals } from './close-on-signals.js';
import { startConfiguredMetricsListener } from './metrics/metrics-listener.js';
import { createPlatformMetrics } from './metrics/platform-metrics.js';
import { createLogger, type Logger } from './runtime/logger.js';
import { createRuntimeFromConfig } from './runtime/create-runtime.js';
import type { Db } from './storage/db.js';
import { migrateAll, openDatabase } from './storage/open-database.js';
import { registryFromConfig } from '../appservice-api/registry.js';
import { startConfiguredBridges } from './configured-bridges.js';

export interface BridgeWorker {
  db: Db;
  log: Logger;
  close(): Promise<void>;
}

/**
 * `causeway start` with the `bridges` role alone: a bridge worker. It holds no homeserver, only
 * what bridges need: the database, the Redis runtime and the appservice registry. The homeserver
 * processes find each bridge through the registration it stores (Postgres, announced on pub/sub)
 * and push transactions to its HTTP listener (`appservice.url`); the bridge calls the Client-Server
 * API at `appservice.homeserver_url` (config checks guarantee both, see roles-checks.ts).
 */
export async function runBridgeWorker(config: Config): Promise<BridgeWorker> {
  const log = createLogger(config.log.level);
  const closers: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const step of closers.splice(0).reverse()) await step();
  };
  try {
    const db = await openDatabase(config.database, log);
    closers.push(() => db.close());
    // A worker may be the first process on a fresh database: the registry's table must exist.
    await migrateAll(db);
    // Partial roles imply the Redis runtime (roles-checks.ts): registrations, leases and wake-ups cross processes.
    const runtime = createRuntimeFromConfig(config.runtime);
    closers.push(() => runtime.close());
    const registry = registryFromConfig(config, { db, pubsub: runtime.pubsub, log });
    await registry.start();
    closers.push(() => registry.stop());
    const metrics = createPlatformMetrics(config.metrics.enabled);
    const listener = await startConfiguredMetricsListener(config.metrics, [metrics]);
    if (listener) closers.push(() => listener.close());
    const stopBridges = await startConfiguredBridges(config, { db, runtime, log, registry, metrics });
    closers.push(stopBridges);
    log.info({ roles: config.roles, bridges: config.bridges.map((b) => b.id) }, 'Causeway bridge worker is running');
    const worker: BridgeWorker = { db, log, close };
    closeOnSignals(worker, log);
    return worker;
  } catch (err) {
    await close().catch((closeErr) => log.warn({ err: closeErr }, 'cleanup after a failed start failed'));
    throw err;
  }
}
