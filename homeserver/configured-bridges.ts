import type { Registry as MetricsRegistry } from 'prom-client';
import type { Config } from './config-schema.js';
import type { Logger } from './runtime/logger.js';
import type { Runtime } from './runtime/ports.js';
import type { AppserviceRegistry } from './services/appservices/registry-port.js';
import type { Db } from './storage/db.js';
import { runsRole } from './roles.js';
import { runBridges } from '../bridges/core/run-bridges.js';

/**
 * Starts the bridges this process runs, over its database, runtime, appservice registry and
 * metrics registry: `config.bridges` with the `bridges` role (which a bridge worker always has),
 * none without. Shared by runPlatform and runBridgeWorker so both read the config the same way.
 * Returns the function that stops them.
 */
export function startConfiguredBridges(
  config: Config,
  deps: {
    db: Db;
    runtime: Runtime;
    log: Logger;
    registry: AppserviceRegistry;
    metrics: MetricsRegistry;
    /** This process's client API, when it listens on one. */
    homeserverUrl?: string;
  },
): Promise<() => Promise<void>> {
  return runBridges({
    bridges: runsRole(config, 'bridges') ? config.bridges : [],
    db: deps.db,
    runtime: deps.runtime,
    log: deps.log,
    serverName: config.server_name,
    homeserverUrl: deps.homeserverUrl,
    registry: deps.registry,
    metrics: deps.metrics,
  });
}
