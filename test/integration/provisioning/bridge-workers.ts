import { Redis } from 'ioredis';
import Fastify, { type FastifyInstance } from 'fastify';
import { Bridge, type BridgeOptions } from '../../../bridges/core/bridge.js';
import type { CryptoStore } from '../../../bridges/core/crypto-store/index.js';
import { registryRegistrar } from '../../../bridges/core/matrix/registration.js';
import type { Platform } from '../../../homeserver/platform.js';
import { createRuntime } from '../../../homeserver/runtime/create-runtime.js';
import type { Runtime } from '../../../homeserver/runtime/ports.js';
import { registerProvisioning } from '../../../provisioning/index.js';
import { FakeNetwork, FakenetConnector } from '../../fakes/fakenet/index.js';
import { bridgeConfig, testCryptoStore } from '../../helpers/bridge.js';
import { buildPlatform, SERVER_NAME, type TestUser } from '../../helpers/platform.js';

/**
 * Several workers of one bridge, as behind a plain load balancer: Bridge instances of the same
 * bridge id on one Postgres schema, each with a Redis runtime of its own on a shared prefix (so
 * they share pub/sub, as processes of a cluster do) and its own provisioning listener, called
 * over real HTTP.
 */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const SECRET = 'cross-worker-provisioning-secret-0123';

export interface Worker {
  bridge: Bridge;
  runtime: Runtime;
  url: string;
  stop(): Promise<void>;
}

export interface Response {
  status: number;
  body: any;
  ms: number;
}

export interface BridgeCluster {
  p: Platform;
  net: FakeNetwork;
  keys: CryptoStore;
  /** Starts one more worker of the bridge. */
  startWorker(opts?: { qrRefreshMs?: number; pool?: BridgeOptions['pool'] }): Promise<Worker>;
  /** Stops every worker still running, the platform, and deletes the cluster's Redis keys. */
  close(): Promise<void>;
}

export async function startCluster(name: string): Promise<BridgeCluster> {
  const prefix = `causeway-provisioning-${name}-${process.pid}-${Date.now().toString(36)}`;
  const p = await buildPlatform({ runtime: { transport: 'redis', redis_url: REDIS_URL, redis_prefix: prefix } });
  await p.app.listen({ host: '127.0.0.1', port: 0 });
  const baseUrl = `http://127.0.0.1:${(p.app.server.address() as { port: number }).port}`;
  const net = new FakeNetwork();
  const keys = testCryptoStore(p.db);
  const workers: Worker[] = [];

  async function startWorker(opts: { qrRefreshMs?: number; pool?: BridgeOptions['pool'] } = {}): Promise<Worker> {
    const runtime: Runtime = createRuntime({ transport: 'redis', redisUrl: REDIS_URL, prefix });
    const bridge = new Bridge({
      db: p.db,
      runtime,
      log: p.log,
      connector: new FakenetConnector(net, { qrRefreshMs: opts.qrRefreshMs ?? 60_000 }),
      config: bridgeConfig({ provisioning: { shared_secret: SECRET } }),
      homeserverUrl: baseUrl,
      serverName: SERVER_NAME,
      keys,
      registrar: registryRegistrar(p.services.appservices!),
      pool: { connectJitterMs: 0, leaseTtlMs: 3_000, ...opts.pool },
      outbox: { pollMs: 200 },
    });
    await bridge.start();
    const app: FastifyInstance = Fastify({ logger: false });
    await registerProvisioning(app, bridge.provisioning);
    await app.listen({ host: '127.0.0.1', port: 0 });
    const port = (app.server.address() as { port: number }).port;
    let stopped = false;
    const worker: Worker = {
      bridge,
      runtime,
      url: `http://127.0.0.1:${port}/_matrix/provision/v3`,
      async stop() {
        if (stopped) return;
        stopped = true;
        await app.close();
        await bridge.stop();
        await runtime.close();
      },
    };
    workers.push(worker);
    return worker;
  }

  return {
    p,
    net,
    keys,
    startWorker,
    async close() {
      for (const w of workers.reverse()) await w.stop();
      await p.close();
      const redis = new Redis(REDIS_URL);
      const left = await redis.keys(`${prefix}:*`);
      if (left.length) await redis.del(...left);
      await redis.quit();
    },
  };
}

/** A request to one worker, as the shared secret for `as` (a user id) or with a user's own token. */
export async function call(w: Worker, method: 'GET' | 'POST', path: string, as: string | TestUser, body?: unknown): Promise<Response> {
  const auth =
    typeof as === 'string' ? { token: SECRET, query: `user_id=${encodeURIComponent(as)}` } : { token: as.accessToken, query: '' };
  const url = `${w.url}${path}${auth.query ? `${path.includes('?') ? '&' : '?'}${auth.query}` : ''}`;
  const started = performance.now();
  const res = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${auth.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let parsed: any = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: kept as text so the assertion shows it
  }
  return { status: res.status, body: parsed, ms: performance.now() - started };
}
