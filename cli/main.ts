#!/usr/bin/env node
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig, ConfigSchema, type Config } from '../homeserver/config.js';
import { ConfigError } from '../homeserver/runtime/config-loader.js';
import { renderExampleConfig } from '../homeserver/runtime/example-config.js';
import { parseRolesFlag, runsHomeserver } from '../homeserver/roles.js';

// Commands load what they need on demand, so `generate-config` does not pull in the whole platform.

const USAGE = `Usage: causeway <command> [options]

Commands:
  start                      Run the platform: every role in one process, or those of --roles.
  migrate                    Apply database migrations and exit.
  create-user <localpart>    Create an account. Options: --password <pw> (or CAUSEWAY_PASSWORD), --admin
  generate-config            Print an example config (or write it with --output <file>).
  appservice-add <file>      Validate and add an appservice registration YAML at runtime.
  appservice-remove <id>     Remove an appservice added at runtime.
  appservice-list            List appservice registrations (config files and runtime).

Options:
  -c, --config <file>        YAML config file (default: ./causeway.yaml if present). Environment
                             variables CAUSEWAY__SECTION__KEY override single values.
  --roles <list>             start: the roles this process runs (client_api, appservice_delivery,
                             bridges), comma-separated; overrides \`roles\` and CAUSEWAY__ROLES.
`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      password: { type: 'string' },
      admin: { type: 'boolean', default: false },
      output: { type: 'string', short: 'o' },
      roles: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    process.stdout.write(USAGE);
    return command || values.help ? 0 : 2;
  }
  const configFile = values.config ?? (await defaultConfigFile());
  // --roles goes through the environment overlay, so it is validated (and its errors named) like CAUSEWAY__ROLES.
  const env = values.roles === undefined ? process.env : { ...process.env, CAUSEWAY__ROLES: JSON.stringify(parseRolesFlag(values.roles)) };
  const config = (): Config => loadConfig(configFile, env);

  switch (command) {
    case 'start': {
      const cfg = config();
      if (runsHomeserver(cfg)) await (await import('../homeserver/platform.js')).runPlatform(cfg);
      else await (await import('../homeserver/bridge-worker.js')).runBridgeWorker(cfg);
      return -1; // keep running
    }
    case 'migrate': {
      const { createLogger } = await import('../homeserver/runtime/logger.js');
      const { migrateAll, openDatabase } = await import('../homeserver/storage/open-database.js');
      const cfg = config();
      const log = createLogger(cfg.log.level);
      const db = await openDatabase(cfg.database, log);
      try {
        const applied = await migrateAll(db);
        process.stdout.write(applied.length ? `Applied: ${applied.join(', ')}\n` : 'Database is up to date\n');
      } finally {
        await db.close();
      }
      return 0;
    }
    case 'create-user': {
      const localpart = rest[0];
      const password = values.password ?? process.env.CAUSEWAY_PASSWORD;
      if (!localpart || !password) {
        process.stderr.write('create-user needs a localpart and --password (or CAUSEWAY_PASSWORD)\n');
        return 2;
      }
      const { createUser } = await import('./create-user.js');
      const userId = await createUser(config(), localpart, password, values.admin ?? false);
      process.stdout.write(`Created ${userId}${values.admin ? ' (admin)' : ''}\n`);
      return 0;
    }
    case 'generate-config': {
      const text = renderExampleConfig(ConfigSchema, 'Causeway configuration.\nEvery key is optional; the values shown are the defaults.');
      if (values.output) writeFileSync(values.output, text);
      else process.stdout.write(text);
      return 0;
    }
    case 'appservice-add': {
      if (!rest[0]) {
        process.stderr.write('appservice-add needs a registration file\n');
        return 2;
      }
      const { appserviceAdd } = await import('./appservices.js');
      const reg = await appserviceAdd(config(), rest[0]);
      process.stdout.write(`Added appservice ${reg.id}\n`);
      return 0;
    }
    case 'appservice-remove': {
      if (!rest[0]) {
        process.stderr.write('appservice-remove needs an appservice id\n');
        return 2;
      }
      const { appserviceRemove } = await import('./appservices.js');
      if (!(await appserviceRemove(config(), rest[0]))) {
        process.stderr.write(`No appservice ${rest[0]} was added at runtime\n`);
        return 1;
      }
      process.stdout.write(`Removed appservice ${rest[0]}\n`);
      return 0;
    }
    case 'appservice-list': {
      const { appserviceList } = await import('./appservices.js');
      for (const r of await appserviceList(config())) process.stdout.write(`${r.id}\t${r.sender}\t${r.url ?? '-'}\t${r.source}\n`);
      return 0;
    }
    default:
      process.stderr.write(`Unknown command '${command}'\n\n${USAGE}`);
      return 2;
  }
}

async function defaultConfigFile(): Promise<string | undefined> {
  const { existsSync } = await import('node:fs');
  return existsSync('causeway.yaml') ? 'causeway.yaml' : undefined;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err) => {
    if (err instanceof ConfigError) process.stderr.write(`${err.message}\n`);
    else process.stderr.write(`causeway: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
