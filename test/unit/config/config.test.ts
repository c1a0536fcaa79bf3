import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { ConfigSchema, configFrom, loadConfig } from '../../../homeserver/config.js';
import { ConfigError } from '../../../homeserver/runtime/config-loader.js';
import { renderExampleConfig } from '../../../homeserver/runtime/example-config.js';

const problemsOf = (fn: () => unknown): string[] => {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
};

describe('config', () => {
  it('fills every default from an empty file', () => {
    const c = configFrom({});
    expect(c.server_name).toBe('localhost');
    expect(c.listen).toEqual({ host: '127.0.0.1', port: 8008 });
    expect(c.database.engine).toBe('embedded');
    expect(c.runtime.transport).toBe('memory');
  });

  it('reports every problem at once, each with its path', () => {
    const problems = problemsOf(() =>
      configFrom({
        server_name: 'bad name!',
        listen: { port: 'eighty' },
        database: { engine: 'postgres' },
        runtime: { transport: 'redis' },
        surprise: 1,
      }),
    );
    expect(problems.some((p) => p.startsWith('/listen/port'))).toBe(true);
    expect(problems.some((p) => p.startsWith('/surprise') || p.includes('additional'))).toBe(true);
  });

  it('checks cross-field rules: server name format, postgres url, redis url, secrets', () => {
    const problems = problemsOf(() =>
      configFrom({ server_name: 'bad name!', database: { engine: 'postgres' }, runtime: { transport: 'redis' } }),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^\/server_name: /),
        expect.stringMatching(/^\/database\/url: /),
        expect.stringMatching(/^\/runtime\/redis_url: /),
      ]),
    );
    const secret = problemsOf(() => configFrom({ registration: { shared_secret: 'short' } }));
    expect(secret[0]).toMatch(/^\/registration\/shared_secret/);
  });

  it('applies environment overrides with their YAML types', () => {
    const c = loadConfig(undefined, {
      CAUSEWAY__LISTEN__PORT: '8448',
      CAUSEWAY__SERVER_NAME: 'example.org',
      CAUSEWAY__REGISTRATION__ENABLED: 'true',
    });
    expect(c.listen.port).toBe(8448);
    expect(c.server_name).toBe('example.org');
    expect(c.registration.enabled).toBe(true);
  });

  it('names a missing or malformed file', () => {
    expect(problemsOf(() => loadConfig('/nonexistent/causeway.yaml', {}))[0]).toContain('not found');
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    writeFileSync(join(dir, 'bad.yaml'), 'listen: [unclosed');
    expect(problemsOf(() => loadConfig(join(dir, 'bad.yaml'), {}))[0]).toContain('not valid YAML');
  });

  it('generates an example config that loads back to the defaults', () => {
    const text = renderExampleConfig(ConfigSchema, 'header');
    expect(text).toContain('# The Matrix server name');
    expect(configFrom(YAML.parse(text))).toEqual(configFrom({}));
  });

  it('the committed config.example.yaml is what generate-config writes', () => {
    const root = join(import.meta.dirname, '../../..');
    const generated = execFileSync(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'generate-config'], { cwd: root }).toString();
    expect(readFileSync(join(root, 'config.example.yaml'), 'utf8')).toBe(generated);
  });
});
