import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerConnector } from '../../../bridges/core/run-bridges.js';
import { createPlatform, runPlatform, type Platform } from '../../../homeserver/platform.js';
import { configFrom } from '../../../homeserver/config.js';
import { ConfigError } from '../../../homeserver/runtime/config-loader.js';
import { createLogger } from '../../../homeserver/runtime/logger.js';
import { FakeNetwork, FakenetConnector } from '../../fakes/fakenet/index.js';
import { freshSchemaDb, TEST_DATABASE_URL } from '../../helpers/database.js';
import { testConfig } from '../../helpers/platform.js';
import { promtoolCheck } from '../../helpers/promtool.js';

/**
 * The operator's metrics listener: `causeway start` with `metrics.enabled` serves the process,
 * appservice delivery and bridge metrics at GET /metrics on a port of its own, in a form
 * Prometheus' own checker accepts, and nowhere else.
 */
let schemaDb: Awaited<ReturnType<typeof freshSchemaDb>>;
let platform: Platform;
let metricsUrl: string;
let clientApiUrl: string;

function portOf(server: { address(): unknown }): number {
  return (server.address() as { port: number }).port;
}

beforeAll(async () => {
  schemaDb = await freshSchemaDb(2);
  const net = new FakeNetwork();
  registerConnector('fakenet', () => new FakenetConnector(net));
  platform = await runPlatform(
    testConfig({
      listen: { host: '127.0.0.1', port: 0 },
      database: { engine: 'postgres', url: TEST_DATABASE_URL, schema: schemaDb.schema },
      metrics: { enabled: true, listen_port: 0 },
      bridges: [
        {
          id: 'fakenet',
          network: 'fakenet',
          crypto_store: { master_key: randomBytes(32).toString('base64') },
          provisioning: { listen_port: 0 },
        },
      ],
    }),
  );
  metricsUrl = `http://127.0.0.1:${portOf(platform.metricsListener!.server)}/metrics`;
  clientApiUrl = `http://127.0.0.1:${portOf(platform.app.server)}`;
});

afterAll(async () => {
  await platform?.close();
  await schemaDb?.close();
});

describe('the metrics listener', () => {
  it('serves process, appservice delivery and bridge metrics in the Prometheus text format', async () => {
    const res = await fetch(metricsUrl);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    // Node's process metrics.
    expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
    expect(text).toMatch(/^nodejs_heap_size_used_bytes \d+/m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds [\d.e-]+/m);
    // The appservice delivery's own registry.
    expect(text).toContain('# TYPE causeway_appservice_transactions_sent_total counter');
    // The configured bridge's pool and activity metrics, on the platform registry through runBridges.
    expect(text).toContain('bridge_sessions{bridge_id="fakenet",state="CONNECTED"} 0');
    expect(text).toMatch(/^bridge_worker_rss_bytes\{bridge_id="fakenet"\} \d+/m);
    expect(text).toContain('bridge_queue_depth{bridge_id="fakenet",queue="portal"} 0');
    expect(text).toContain('bridge_queue_depth{bridge_id="fakenet",queue="outbox"} 0');
    expect(text).toContain('# TYPE bridge_remote_events_total counter');
    expect(text).toContain('# TYPE bridge_delivery_failures_total counter');
  });

  it('passes promtool check metrics without a lint problem', async () => {
    const text = await (await fetch(metricsUrl)).text();
    const check = promtoolCheck(text);
    expect(check.output).toBe('');
    expect(check.status).toBe(0);
  });

  it('promtool itself catches a broken scrape (the check above is not vacuous)', () => {
    const check = promtoolCheck('# TYPE requests counter\nrequests 1\n');
    expect(check.output).toMatch(/counter metrics should have "_total" suffix/);
  });

  it('is not served on the public client API port', async () => {
    expect((await fetch(`${clientApiUrl}/metrics`)).status).toBe(404);
    expect((await fetch(`${clientApiUrl}/_matrix/client/versions`)).status).toBe(200);
  });
});

describe('metrics listener configuration', () => {
  const problemsOf = (raw: Record<string, unknown>): string[] => {
    try {
      configFrom(raw);
      return [];
    } catch (err) {
      if (err instanceof ConfigError) return err.problems;
      throw err;
    }
  };

  it('is off by default, on 127.0.0.1:9000 when enabled', () => {
    expect(configFrom({}).metrics).toEqual({ enabled: false, listen_host: '127.0.0.1', listen_port: 9000 });
  });

  it('names a bad port, and a port shared with the client API', () => {
    expect(problemsOf({ metrics: { enabled: true, listen_port: 70_000 } })).toEqual([expect.stringMatching(/^\/metrics\/listen_port: /)]);
    expect(problemsOf({ metrics: { enabled: true, listen_port: 'nine' } })).toEqual([expect.stringMatching(/^\/metrics\/listen_port: /)]);
    expect(problemsOf({ listen: { port: 8448 }, metrics: { enabled: true, listen_port: 8448 } })).toEqual([
      expect.stringMatching(/^\/metrics\/listen_port: must differ from listen.port/),
    ]);
  });

  it('reports a port it cannot listen on as a config problem, and leaves nothing running', async () => {
    const busy: Server = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const db = await freshSchemaDb(2);
    try {
      const config = testConfig({ metrics: { enabled: true, listen_port: portOf(busy) } });
      const failed = await createPlatform({ config, db, log: createLogger('silent') }).catch((err: unknown) => err);
      expect(failed).toBeInstanceOf(ConfigError);
      expect((failed as ConfigError).problems).toEqual([`/metrics/listen_port: cannot listen on 127.0.0.1:${portOf(busy)} (EADDRINUSE)`]);
      // The platform closed what it had started; the caller's database is still usable.
      expect((await db.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await new Promise((r) => busy.close(r));
      await db.close();
    }
  });
});

describe('closing the platform', () => {
  it('closes the metrics listener', async () => {
    const db = await freshSchemaDb(2);
    const config = testConfig({ metrics: { enabled: true, listen_port: 0 } });
    const p = await createPlatform({ config, db, log: createLogger('silent') });
    const url = `http://127.0.0.1:${portOf(p.metricsListener!.server)}/metrics`;
    expect((await fetch(url)).status).toBe(200);
    await p.close();
    await db.close();
    await expect(fetch(url)).rejects.toThrow();
  });
});
