import Fastify, { type FastifyInstance } from 'fastify';
import { Value } from '@sinclair/typebox/value';
import { Bridge, type BridgeOptions } from '../../bridges/core/bridge.js';
import { BridgeConfigSchema, type BridgeConfig } from '../../bridges/core/config-schema.js';
import { registryRegistrar } from '../../bridges/core/matrix/registration.js';
import type { LoginId } from '../../bridges/core/network/ids.js';
import type { LoginKeyStore } from '../../bridges/core/network/login-context.js';
import { registerProvisioning } from '../../provisioning/index.js';
import type { Platform } from '../../homeserver/platform.js';
import { FakeNetwork, FakenetConnector, MemoryKeyStore } from '../fakes/fakenet/index.js';
import { SERVER_NAME } from './platform.js';

/** A bridge config with the schema's defaults and test-friendly overrides. */
export function bridgeConfig(overrides: Record<string, unknown> = {}): BridgeConfig {
  const raw = { id: 'fakenet', network: 'fakenet', ...overrides };
  return Value.Default(BridgeConfigSchema, Value.Clone(raw)) as BridgeConfig;
}

/**
 * Key stores that outlive a bridge instance (a restarted or second worker sees the same keys),
 * standing in for the crypto store in tests that are not about it.
 */
export class SharedKeys {
  private stores = new Map<string, MemoryKeyStore>();
  keyStoreFor = (loginId: LoginId): LoginKeyStore => {
    let s = this.stores.get(loginId);
    if (!s) this.stores.set(loginId, (s = new MemoryKeyStore()));
    return s;
  };
  deleteKeys = async (loginId: LoginId) => void this.stores.delete(loginId);
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
  keys: SharedKeys;
  config?: Record<string, unknown>;
  pool?: BridgeOptions['pool'];
  outbox?: BridgeOptions['outbox'];
}): Promise<TestBridge> {
  const { platform } = opts;
  const bridge = new Bridge({
    db: platform.db,
    runtime: platform.runtime,
    log: platform.log,
    connector: new FakenetConnector(opts.net),
    config: bridgeConfig(opts.config),
    homeserverUrl: opts.baseUrl,
    serverName: SERVER_NAME,
    keyStoreFor: opts.keys.keyStoreFor,
    deleteKeys: opts.keys.deleteKeys,
    registrar: registryRegistrar(platform.services.appservices!),
    pool: { connectJitterMs: 0, leaseTtlMs: 3_000, ...opts.pool },
    outbox: { pollMs: 200, ...opts.outbox },
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
  for (let i = 0; ; i++) {
    if (process.env.DEBUG_EVENTUALLY && i === 200) console.log('STUCK', check.toString());
    const v = await check();
    if (v !== undefined && v !== false) return v;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
