import { readFileSync, existsSync } from 'node:fs';
import { Value, ValueErrorType, type ValueError } from '@sinclair/typebox/value';
import type { TSchema, Static } from '@sinclair/typebox';
import YAML from 'yaml';

export const ENV_PREFIX = 'CAUSEWAY__';

/** All problems in a config at once, each with its path, so an operator fixes them in one go. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/**
 * Environment overrides: CAUSEWAY__DATABASE__URL=... sets database.url. Values are parsed as YAML
 * scalars so numbers and booleans keep their types (CAUSEWAY__LISTEN__PORT=8448).
 */
export function overlayEnv(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out = structuredClone(raw);
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || value === undefined) continue;
    const path = name.slice(ENV_PREFIX.length).toLowerCase().split('__');
    let node: Record<string, unknown> = out;
    for (const key of path.slice(0, -1)) {
      const next = node[key];
      node = (next && typeof next === 'object' ? next : (node[key] = {})) as Record<string, unknown>;
    }
    node[path[path.length - 1]!] = YAML.parse(value);
  }
  return out;
}

/**
 * TypeBox's messages name types ("Expected union value", "Expected array"); an operator needs the
 * allowed values, and the list syntax when a list came from the environment as a plain string.
 */
function readableMessage(e: ValueError): string {
  if (e.type === ValueErrorType.Array && typeof e.value === 'string')
    return `must be a list, e.g. [a, b] (also in CAUSEWAY__ variables); got ${JSON.stringify(e.value)}`;
  const options = (e.schema as { anyOf?: { const?: unknown }[] }).anyOf;
  if (!options?.length || !options.every((o) => typeof o.const === 'string')) return e.message;
  return `must be one of ${options.map((o) => `'${String(o.const)}'`).join(', ')}; got ${JSON.stringify(e.value)}`;
}

/** Validates a raw object against the schema: defaults filled, every error reported by path. */
export function validateConfig<S extends TSchema>(
  schema: S,
  raw: unknown,
  crossChecks: (value: Static<S>, add: (path: string, message: string) => void) => void = () => {},
): Static<S> {
  const value = Value.Default(schema, structuredClone(raw ?? {}));
  const problems = [...Value.Errors(schema, value)].map((e) => `${e.path || '/'}: ${readableMessage(e)}`);
  if (problems.length === 0) crossChecks(value as Static<S>, (path, message) => problems.push(`${path}: ${message}`));
  if (problems.length) throw new ConfigError(problems);
  return value as Static<S>;
}

export function loadConfigFile<S extends TSchema>(
  schema: S,
  file: string | undefined,
  env: NodeJS.ProcessEnv,
  crossChecks?: (value: Static<S>, add: (path: string, message: string) => void) => void,
): Static<S> {
  let raw: unknown = {};
  if (file) {
    if (!existsSync(file)) throw new ConfigError([`${file}: config file not found`]);
    try {
      raw = YAML.parse(readFileSync(file, 'utf8')) ?? {};
    } catch (err) {
      throw new ConfigError([`${file}: not valid YAML: ${(err as Error).message}`]);
    }
    if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError([`${file}: the top level must be a mapping`]);
  }
  return validateConfig(schema, overlayEnv(raw as Record<string, unknown>, env), crossChecks);
}
