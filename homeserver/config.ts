import { ConfigSchema, type Config } from './config-schema.js';
import { loadConfigFile, validateConfig } from './runtime/config-loader.js';
import { isValidServerName } from './matrix/ids.js';
import { checkRoles } from './roles-checks.js';

export { ConfigSchema, type Config };

/** Cross-field rules the schema cannot express (Dendrite's Verify). */
function verify(c: Config, add: (path: string, message: string) => void): void {
  if (!isValidServerName(c.server_name)) add('/server_name', `'${c.server_name}' is not a valid Matrix server name`);
  if (c.database.engine === 'postgres' && !c.database.url) add('/database/url', "required when database.engine is 'postgres'");
  if (c.runtime.transport === 'redis' && !c.runtime.redis_url) add('/runtime/redis_url', "required when runtime.transport is 'redis'");
  if (c.metrics.enabled && c.metrics.listen_port !== 0 && c.metrics.listen_port === c.listen.port)
    add('/metrics/listen_port', 'must differ from listen.port: metrics get a listener of their own, never the public client API');
  checkRoles(c, add);
  try {
    new URL(c.public_baseurl);
  } catch {
    add('/public_baseurl', 'must be an absolute URL');
  }
}

export function loadConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env): Config {
  return loadConfigFile(ConfigSchema, file, env, verify);
}

export function configFrom(raw: unknown): Config {
  return validateConfig(ConfigSchema, raw, verify);
}
