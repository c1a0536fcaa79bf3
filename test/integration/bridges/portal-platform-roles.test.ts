import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { registerConnector } from '../../../bridges/core/run-bridges.js';
import { runPlatform } from '../../../homeserver/platform.js';
import { freshSchemaDb, TEST_DATABASE_URL } from '../../helpers/database.js';
import { testConfig } from '../../helpers/platform.js';
import { FakeNetwork, FakenetConnector } from '../../fakes/fakenet/index.js';

/** `causeway start` with a `bridges` entry: the platform runs the bridge as a role of its own process. */
describe('configured bridges as platform roles', () => {
  it('starts the configured bridge after the homeserver listens and stops it on close', async () => {
    const schemaDb = await freshSchemaDb(2); // creates the schema and drops it at the end
    const net = new FakeNetwork();
    registerConnector('fakenet', () => new FakenetConnector(net));
    const config = testConfig({
      listen: { host: '127.0.0.1', port: 0 },
      database: { engine: 'postgres', url: TEST_DATABASE_URL, schema: schemaDb.schema },
      bridges: [
        {
          id: 'fakenet',
          network: 'fakenet',
          crypto_store: { master_key: randomBytes(32).toString('base64') },
          provisioning: { listen_port: 0 },
        },
      ],
    });
    const platform = await runPlatform(config);
    try {
      const reg = platform.services.appservices!.byId('fakenet');
      expect(reg).toMatchObject({ url: 'inproc://fakenet', senderLocalpart: 'fakenetbot', receiveEphemeral: true });
      const { rows } = await platform.db.query('SELECT count(*)::int AS n FROM hs_users WHERE user_id = $1', ['@fakenetbot:test.local']);
      expect(rows[0]!.n).toBe(1);
    } finally {
      await platform.close();
      await schemaDb.close();
    }
  });

  it('refuses a bridge whose network has no connector, naming the entry', async () => {
    const schemaDb = await freshSchemaDb(2);
    const config = testConfig({
      listen: { host: '127.0.0.1', port: 0 },
      database: { engine: 'postgres', url: TEST_DATABASE_URL, schema: schemaDb.schema },
      bridges: [{ id: 'nowhere', network: 'no-such-network', crypto_store: { master_key: randomBytes(32).toString('base64') } }],
    });
    await expect(runPlatform(config)).rejects.toThrow(/bridges\[nowhere\]\.network/);
    await schemaDb.close();
  });
});
