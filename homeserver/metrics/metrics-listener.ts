import { closeConnectionsOnClose } from '../http/connections.js';
import Fastify, { type FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import type { Config } from '../config-schema.js';
import { ConfigError } from '../runtime/config-loader.js';

export interface MetricsListenerOptions {
  host: string;
  port: number;
  /** Served together; each keeps its own metrics (the appservice delivery has a registry of its own). */
  registries: Registry[];
}

/**
 * `GET /metrics` in the Prometheus text format on a listener of its own, like Synapse's metrics
 * listener: the client API port is public, metrics are for the operator's network only. The
 * registries are merged at every scrape rather than once, because bridges register their
 * metrics after this starts (they start once the homeserver listens).
 */
export async function startMetricsListener(o: MetricsListenerOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  // A scraper's idle keep-alive connection must not hold up shutdown (see connections.ts).
  closeConnectionsOnClose(app);
  app.get('/metrics', async (_req, reply) => {
    const merged = Registry.merge(o.registries);
    const text = await merged.metrics();
    return reply.type(merged.contentType).send(text);
  });
  try {
    await app.listen({ host: o.host, port: o.port });
  } catch (err) {
    await app.close();
    const code = (err as { code?: string }).code;
    // A port in use or privileged is the port's fault; anything else (no such address here) the host's.
    const field = code === 'EADDRINUSE' || code === 'EACCES' ? 'listen_port' : 'listen_host';
    throw new ConfigError([`/metrics/${field}: cannot listen on ${o.host}:${o.port} (${code ?? (err as Error).message})`]);
  }
  return app;
}

/**
 * The listener of the `metrics` config section, serving `registries`, or undefined when metrics
 * are disabled: how every kind of process (platform, bridge worker) reads that section.
 */
export async function startConfiguredMetricsListener(
  config: Config['metrics'],
  registries: Registry[],
): Promise<FastifyInstance | undefined> {
  if (!config.enabled) return undefined;
  return startMetricsListener({ host: config.listen_host, port: config.listen_port, registries });
}
