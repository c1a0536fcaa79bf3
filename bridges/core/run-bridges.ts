import { closeConnectionsOnClose } from '../../homeserver/http/connections.js';
import type { AppserviceRegistry } from '../../homeserver/services/appservices/registry-port.js';
import type { Logger } from '../../homeserver/runtime/logger.js';
import type { Runtime } from '../../homeserver/runtime/ports.js';
import type { Db } from '../../homeserver/storage/db.js';
import Fastify from 'fastify';
import type { Registry } from 'prom-client';
import { registerProvisioning } from '../../provisioning/index.js';
import { Bridge } from './bridge.js';
import type { BridgeConfig } from './config-schema.js';
import { CryptoStore, loadMasterKey } from './crypto-store/index.js';
import { registryRegistrar } from './matrix/registration.js';
import { BRIDGE_MIGRATIONS } from './storage/bridge-migrations.js';
import { migrate } from '../../homeserver/storage/migrate.js';
import type { NetworkConnector } from './network/network-connector.js';

/** Connector factories by network id; each network's folder registers its own (bridges/telegram, ...). */
const connectors = new Map<string, (config: BridgeConfig) => NetworkConnector>();

export function registerConnector(networkId: string, make: (config: BridgeConfig) => NetworkConnector): void {
  connectors.set(networkId, make);
}

/**
 * Runs the configured bridges in this process (the platform's `bridges` list): each with its
 * crypto store (master key checked at start), registration through the platform's registry, and
 * its provisioning API on a listener of its own (`provisioning.listen_*`). Returns the function
 * that stops them all, last started first.
 */
export async function runBridges(opts: {
  bridges: BridgeConfig[];
  db: Db;
  runtime: Runtime;
  log: Logger;
  serverName: string;
  /** This process's own client API, when it runs one; otherwise each bridge names `appservice.homeserver_url`. */
  homeserverUrl?: string;
  registry: AppserviceRegistry;
  /** The platform's metrics registry: every bridge's pool and activity metrics go on it. */
  metrics?: Registry;
}): Promise<() => Promise<void>> {
  const stops: (() => Promise<void>)[] = [];
  try {
    for (const config of opts.bridges) {
      const make = connectors.get(config.network);
      const homeserverUrl = config.appservice.homeserver_url ?? opts.homeserverUrl;
      if (!homeserverUrl) throw new Error(`bridges[${config.id}].appservice.homeserver_url: required in a process without the client API`);
      if (!make) throw new Error(`bridges[${config.id}].network: no connector '${config.network}' is available in this build`);
      const keys = new CryptoStore({
        db: opts.db,
        bridgeId: config.id,
        masterKey: loadMasterKey(
          { value: config.crypto_store.master_key, file: config.crypto_store.master_key_file },
          { value: `bridges[${config.id}].crypto_store.master_key`, file: `bridges[${config.id}].crypto_store.master_key_file` },
        ),
        cacheBytes: config.crypto_store.cache_bytes,
      });
      const bridge = new Bridge({
        db: opts.db,
        runtime: opts.runtime,
        log: opts.log.child({ bridge: config.id }),
        connector: make(config),
        config,
        homeserverUrl,
        serverName: opts.serverName,
        keys,
        registrar: registryRegistrar(opts.registry),
        metrics: opts.metrics,
      });
      // A wrong master key must stop start-up before any session reads its keys with it.
      await migrate(opts.db, [BRIDGE_MIGRATIONS]);
      await keys.checkMasterKey();
      await bridge.start();
      const provisioning = Fastify({ logger: false });
      // An admin tool's idle keep-alive connection must not hold up shutdown (see connections.ts).
      closeConnectionsOnClose(provisioning);
      await registerProvisioning(provisioning, bridge.provisioning);
      await provisioning.listen({ host: config.provisioning.listen_host, port: config.provisioning.listen_port });
      stops.push(async () => {
        await provisioning.close();
        await bridge.stop();
      });
    }
  } catch (err) {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    throw err;
  }
  return async () => {
    for (const stop of stops.reverse()) await stop();
  };
}
