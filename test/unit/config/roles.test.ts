import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { configFrom, loadConfig } from '../../../homeserver/config.js';
import { ConfigError } from '../../../homeserver/runtime/config-loader.js';
import { parseRolesFlag, ROLES } from '../../../homeserver/roles.js';

const problemsOf = (raw: unknown): string[] => {
  try {
    configFrom(raw);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
};

/** What every process of a cluster shares: Postgres and Redis. */
const CLUSTER = {
  database: { engine: 'postgres', url: 'postgres://db/causeway' },
  runtime: { transport: 'redis', redis_url: 'redis://cache' },
};
const bridge = (appservice: Record<string, unknown> = {}) => ({
  id: 'telegram',
  network: 'telegram',
  crypto_store: { master_key_file: '/run/secrets/tg' },
  appservice,
});

describe('roles config', () => {
  it('runs every role by default', () => {
    expect(configFrom({}).roles).toEqual([...ROLES]);
  });

  it('names the allowed roles when one is unknown', () => {
    expect(problemsOf({ ...CLUSTER, roles: ['client_api', 'federation'] })).toEqual([
      `/roles/1: must be one of 'client_api', 'appservice_delivery', 'bridges'; got "federation"`,
    ]);
    expect(problemsOf({ ...CLUSTER, roles: [] })[0]).toMatch(/^\/roles: /);
  });

  it('refuses a partial role set in memory mode: one process must run every role', () => {
    const [problem] = problemsOf({ roles: ['client_api'], database: CLUSTER.database });
    expect(problem).toMatch(/^\/roles: this process runs \[client_api\], but runtime.transport 'memory' means a single process/);
    expect(problem).toContain('must run every role (client_api, appservice_delivery, bridges)');
  });

  it('refuses a partial role set on the embedded database', () => {
    const [problem] = problemsOf({ roles: ['client_api'], runtime: CLUSTER.runtime });
    expect(problem).toMatch(/^\/roles: .*database.engine 'embedded' is a private server of one process/);
  });

  it('accepts the cluster split: homeserver processes and a bridge worker sharing one config', () => {
    const bridges = [bridge({ mode: 'http', homeserver_url: 'http://lb:8008', url: 'http://bridges-1:29330' })];
    expect(problemsOf({ ...CLUSTER, bridges, roles: ['client_api', 'appservice_delivery'] })).toEqual([]);
    expect(problemsOf({ ...CLUSTER, bridges, roles: ['client_api'] })).toEqual([]);
    expect(problemsOf({ ...CLUSTER, bridges, roles: ['bridges'] })).toEqual([]);
  });

  it('refuses inproc bridges in a bridge worker, naming the setting', () => {
    const problems = problemsOf({ ...CLUSTER, roles: ['bridges'], bridges: [bridge({ homeserver_url: 'http://lb:8008' })] });
    expect(problems).toEqual([expect.stringMatching(/^\/bridges\/0\/appservice\/mode: 'inproc' needs .*appservice_delivery.*use 'http'/)]);
  });

  it('refuses inproc bridges that a delivering process without the bridges role would never reach', () => {
    const problems = problemsOf({ ...CLUSTER, roles: ['client_api', 'appservice_delivery'], bridges: [bridge()] });
    expect(problems).toEqual([expect.stringMatching(/^\/bridges\/0\/appservice\/mode: 'inproc' bridges get their transactions/)]);
  });

  it('requires the homeserver URL for bridges in a process without the client API', () => {
    const problems = problemsOf({ ...CLUSTER, roles: ['bridges'], bridges: [bridge({ mode: 'http' })] });
    expect(problems).toEqual([
      expect.stringMatching(/^\/bridges\/0\/appservice\/homeserver_url: required when the process runs no client_api/),
    ]);
  });

  it('requires the appservice url when the bridge listens on a wildcard address', () => {
    const problems = problemsOf({
      ...CLUSTER,
      roles: ['bridges'],
      bridges: [bridge({ mode: 'http', homeserver_url: 'http://lb:8008', listen_host: '0.0.0.0' })],
    });
    expect(problems).toEqual([expect.stringMatching(/^\/bridges\/0\/appservice\/url: required when listen_host is '0.0.0.0'/)]);
  });

  it('takes CAUSEWAY__ROLES as a YAML list, like every list setting', () => {
    const env = {
      CAUSEWAY__ROLES: '[client_api, appservice_delivery]',
      CAUSEWAY__DATABASE__ENGINE: 'postgres',
      CAUSEWAY__DATABASE__URL: 'postgres://db/causeway',
      CAUSEWAY__RUNTIME__TRANSPORT: 'redis',
      CAUSEWAY__RUNTIME__REDIS_URL: 'redis://cache',
    };
    expect(loadConfig(undefined, env).roles).toEqual(['client_api', 'appservice_delivery']);
    expect(() => loadConfig(undefined, { ...env, CAUSEWAY__ROLES: 'client_api,bridges' })).toThrow(
      '/roles: must be a list, e.g. [a, b] (also in CAUSEWAY__ variables); got "client_api,bridges"',
    );
  });

  it('reads the --roles flag as a comma-separated list', () => {
    expect(parseRolesFlag('client_api, appservice_delivery,')).toEqual(['client_api', 'appservice_delivery']);
  });

  it('`causeway start --roles=...` reports a bad role set before starting anything', async () => {
    const root = join(import.meta.dirname, '../../..');
    const run = (args: string[], env: Record<string, string> = {}) =>
      promisify(execFile)(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], {
        cwd: root,
        env: { ...process.env, ...env },
      }).then(
        () => ({ code: 0, stderr: '' }),
        (err: { code: number; stderr: string }) => ({ code: err.code, stderr: err.stderr }),
      );
    const unknown = await run(['start', '--roles=client_api,nope']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain(`/roles/1: must be one of 'client_api', 'appservice_delivery', 'bridges'; got "nope"`);
    // The flag wins over the environment, and memory mode (the default) wants every role.
    const memory = await run(['start', '--roles=bridges'], { CAUSEWAY__ROLES: '[client_api, appservice_delivery, bridges]' });
    expect(memory.code).toBe(1);
    expect(memory.stderr).toContain("this process runs [bridges], but runtime.transport 'memory' means a single process");
  }, 60_000);
});
