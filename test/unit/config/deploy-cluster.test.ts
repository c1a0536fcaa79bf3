import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../homeserver/config.js';

/** The cluster example in deploy/cluster/ stays a valid config for each role as the schema changes. */
describe('deploy/cluster examples', () => {
  const dir = join(import.meta.dirname, '../../../deploy/cluster');
  it.each([
    ['client-api.yaml', ['client_api']],
    ['appservice-delivery.yaml', ['appservice_delivery']],
    ['bridge-worker.yaml', ['bridges']],
  ])('%s loads with roles %j', (file, roles) => {
    const config = loadConfig(join(dir, file), {});
    expect(config.roles).toEqual(roles);
    expect(config).toMatchObject({ database: { engine: 'postgres' }, runtime: { transport: 'redis', redis_prefix: 'causeway' } });
  });
});
