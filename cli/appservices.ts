import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { Config } from '../homeserver/config.js';
import { createLogger } from '../homeserver/runtime/logger.js';
import { createRuntimeFromConfig } from '../homeserver/runtime/create-runtime.js';
import { migrateAll, openDatabase } from '../homeserver/storage/open-database.js';
import { Registry, registryFromConfig } from '../appservice-api/registry.js';
import { RegistrationError } from '../appservice-api/registration/parse-registration.js';
import type { AppserviceRegistration } from '../homeserver/services/appservices/registry-port.js';

/**
 * The admin CLI for runtime appservice registrations (`appservice-add|remove|list`). It writes to
 * Postgres directly and publishes the change on the configured runtime, so running processes
 * (Redis transport) reload; with the memory transport a running server picks it up at restart.
 */
async function withRegistry<T>(config: Config, fn: (registry: Registry) => Promise<T>): Promise<T> {
  const log = createLogger('warn');
  const db = await openDatabase(config.database, log);
  const runtime = createRuntimeFromConfig(config.runtime);
  const registry = registryFromConfig(config, { db, pubsub: runtime.pubsub, log });
  try {
    await migrateAll(db);
    await registry.start();
    return await fn(registry);
  } finally {
    await registry.stop();
    await runtime.close();
    await db.close();
  }
}

/** Adds the registration in `file`; throws with every problem named by its field. */
export async function appserviceAdd(config: Config, file: string): Promise<AppserviceRegistration> {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new RegistrationError([{ path: '(file)', message: (err as Error).message.split('\n')[0]! }], file);
  }
  return withRegistry(config, async (registry) => {
    try {
      return await registry.add(doc);
    } catch (err) {
      throw new Error(`${file}: ${(err as Error).message}`, { cause: err });
    }
  });
}

export async function appserviceRemove(config: Config, id: string): Promise<boolean> {
  return withRegistry(config, (registry) => registry.remove(id));
}

export async function appserviceList(config: Config): Promise<{ id: string; url: string | null; sender: string; source: string }[]> {
  return withRegistry(config, async (registry) =>
    registry.all().map((r) => ({
      id: r.id,
      url: r.url,
      sender: `@${r.senderLocalpart}:${config.server_name}`,
      source: registry.isRuntime(r.id) ? 'runtime' : 'config',
    })),
  );
}
