import Fastify, { type FastifyInstance } from 'fastify';
import { Value } from '@sinclair/typebox/value';
import { Bridge, type BridgeOptions } from '../../bridges/core/bridge.js';
import { BridgeConfigSchema, type BridgeConfig } from '../../bridges/core/config-schema.js';
import { registryRegistrar } from '../../bridges/core/matrix/registration.js';
import { randomBytes } from 'node:crypto';
import { CryptoStore, loadMasterKey, saveLoginSecrets } from '../../bridges/core/crypto-store/index.js';
import type { LoginId } from '../../bridges/core/network/ids.js';
import type { Db } from '../../homeserver/storage/db.js';
import { registerProvisioning } from '../../provisioning/index.js';
import type { Platform } from '../../homeserver/platform.js';
import { FakeNetwork, FakenetConnector } from '../fakes/fakenet/index.js';
import { SERVER_NAME } from './platform.js';

/** A bridge config with the schema's defaults and test-friendly overrides. */
export function bridgeConfig(overrides: Record<string, unknown> = {}): BridgeConfig {
  const raw = { id: 'fakenet', network: 'fakenet', ...overrides };
  return Value.Default(BridgeConfigSchema, Value.Clone(raw)) as BridgeConfig;
}

/** The real crypto store over the test database, under a random master key. */
export function testCryptoStore(db: Db, bridgeId = 'fakenet'): CryptoStore {
  return new CryptoStore({ db, bridgeId, masterKey: loadMasterKey({ value: randomBytes(32).toString('base64') }) });
}

export interface TestBridge {
  bridge: Bridge;
  /** Base URL of this bridge's provisioning API (its own listener). */
  provisioningUrl: string;
  stop(): Promise<void>;
}

/**
 * Starts a fakenet bridge against a listening platform (the homeserver at `baseUrl`), registered
 * through the platform's registry, with its provisioning API on a listener of its own.
 */
export async function startFakenetBridge(opts: {
  platform: Platform;
  baseUrl: string;
  net: FakeNetwork;
  /** Shared by every instance of the bridge (restarts, second workers), as the master key would be. */
  keys: CryptoStore;
  config?: Record<string, unknown>;
  pool?: BridgeOptions['pool'];
  outbox?: BridgeOptions['outbox'];
  /** Default: the platform's. A worker of its own (another process of a cluster) passes another runtime on the same transport. */
  runtime?: BridgeOptions['runtime'];
  metrics?: BridgeOptions['metrics'];
}): Promise<TestBridge> {
  const { platform } = opts;
  const bridge = new Bridge({
    db: platform.db,
    runtime: opts.runtime ?? platform.runtime,
    log: platform.log,
    connector: new FakenetConnector(opts.net),
    config: bridgeConfig(opts.config),
    homeserverUrl: opts.baseUrl,
    serverName: SERVER_NAME,
    keys: opts.keys,
    registrar: registryRegistrar(platform.services.appservices!),
    pool: { connectJitterMs: 0, leaseTtlMs: 3_000, ...opts.pool },
    outbox: { pollMs: 200, ...opts.outbox },
    metrics: opts.metrics,
  });
  await bridge.start();
  const app: FastifyInstance = Fastify({ logger: false });
  await registerProvisioning(app, bridge.provisioning);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as { port: number }).port;
  return {
    bridge,
    provisioningUrl: `http://127.0.0.1:${port}/_matrix/provision/v3`,
    async stop() {
      await app.close();
      await bridge.stop();
    },
  };
}

/** Polls `check` until it returns a value (not a timed assertion: the test's own timeout bounds it). */
export async function eventually<T>(check: () => Promise<T | undefined | false> | T | undefined | false, intervalMs = 25): Promise<T> {
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Logs a remote account in without the provisioning flow (what the flow's completion does):
 * seals its session token, stores the login and starts its session in `b`.
 *
 * With other workers of the bridge running, their takeover scans may lease the login as soon as
 * its row exists: the secrets are sealed before the row is written (so whoever connects it can),
 * and `pool.add` is repeated until `b` holds it (each call asks the holder to hand it over and
 * waits at most one lease TTL, which a loaded machine can exceed; a single call used to leave the
 * login elsewhere and this helper waiting forever).
 */
export async function loginDirectly(b: Bridge, keys: CryptoStore, net: FakeNetwork, userMxid: string, remoteUserId: string): Promise<void> {
  const loginId = remoteUserId as LoginId;
  await saveLoginSecrets(keys.forLogin(loginId), { session: new TextEncoder().encode(net.createSession(remoteUserId)) });
  await b.portalDeps.userLogins.upsert({ loginId, userMxid, remoteName: net.user(remoteUserId).name, metadata: {} });
  while (!(await b.pool.add(loginId))) await new Promise((r) => setTimeout(r, 50));
  await eventually(() => b.pool.states().get(loginId)?.stateEvent === 'CONNECTED');
}
