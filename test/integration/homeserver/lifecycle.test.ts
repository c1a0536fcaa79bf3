import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createPlatform } from '../../../homeserver/platform.js';
import { createLogger } from '../../../homeserver/runtime/logger.js';
import { buildPlatform, call, enc, makeUser, testConfig } from '../../helpers/platform.js';
import { freshSchemaDb, TEST_DATABASE_URL } from '../../helpers/database.js';
import { specValidator } from '../../helpers/openapi/spec-validator.js';

const spec = await specValidator();

describe('discovery endpoints', () => {
  it('serves /versions (v1.4+ and r0), well-known and CORS headers', async () => {
    const p = await buildPlatform();
    try {
      const versions = await call(p, undefined, 'GET', '/_matrix/client/versions');
      spec.assertResponse('GET', '/_matrix/client/versions', 200, versions.body);
      expect(versions.body.versions).toEqual(expect.arrayContaining(['r0.6.1', 'v1.4']));
      const wk = await call(p, undefined, 'GET', '/.well-known/matrix/client');
      spec.assertResponse('GET', '/.well-known/matrix/client', 200, wk.body);
      expect(wk.body['m.homeserver'].base_url).toBe(p.services.config.public_baseurl);
    } finally {
      await p.close();
    }
  });
});

describe('graceful shutdown', () => {
  it('answers and persists every write it accepted before closing', async () => {
    const db = await freshSchemaDb();
    const config = testConfig();
    const p = await createPlatform({ config, db, log: createLogger('silent') });
    try {
      const u = await makeUser(p, 'writer');
      const room = (await call(p, u, 'POST', '/_matrix/client/v3/createRoom', {})).body.room_id;
      await p.app.listen({ host: '127.0.0.1', port: 0 });
      const base = `http://127.0.0.1:${(p.app.server.address() as { port: number }).port}`;
      const sends = Array.from({ length: 50 }, (_, i) =>
        fetch(`${base}/_matrix/client/v3/rooms/${enc(room)}/send/m.room.message/shutdown${i}`, {
          method: 'PUT',
          headers: { authorization: `Bearer ${u.accessToken}`, 'content-type': 'application/json' },
          body: JSON.stringify({ msgtype: 'm.text', body: `${i}` }),
        }).then(async (r) => ({ status: r.status, body: (await r.json()) as { event_id?: string } })),
      );
      const settled = Promise.allSettled(sends);
      await sends[0]; // the server is busy with the rest now
      await p.close();
      const results = await settled;
      const statuses = results.map((r) => (r.status === 'fulfilled' ? r.value.status : 'refused'));
      // Accepted requests finish with 200; those arriving after shutdown began get 503 (retry with the same txn id).
      expect(statuses.filter((s) => s !== 200 && s !== 503 && s !== 'refused')).toEqual([]);
      const acknowledged = results.flatMap((r) => (r.status === 'fulfilled' && r.value.status === 200 ? [r.value.body.event_id!] : []));
      expect(acknowledged.length).toBeGreaterThan(1);
      const { rows } = await db.query<{ event_id: string }>("SELECT event_id FROM hs_events WHERE type = 'm.room.message'");
      expect(rows.map((r) => r.event_id)).toEqual(expect.arrayContaining(acknowledged));
    } finally {
      await p.close();
      await db.close();
    }
  });
});

describe('CLI', () => {
  it('create-user --admin makes an account that can log in; migrate reports up to date', async () => {
    const db = await freshSchemaDb(1);
    const root = join(import.meta.dirname, '../../..');
    const env = {
      ...process.env,
      CAUSEWAY__DATABASE__ENGINE: 'postgres',
      CAUSEWAY__DATABASE__URL: TEST_DATABASE_URL,
      CAUSEWAY__DATABASE__SCHEMA: db.schema,
      CAUSEWAY__SERVER_NAME: 'cli.test',
    };
    const cli = (...args: string[]) =>
      execFileSync(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], { cwd: root, env }).toString();
    try {
      expect(cli('migrate')).toMatch(/Applied: hs\/0001/);
      expect(cli('create-user', 'root', '--password', 'root password', '--admin')).toContain('Created @root:cli.test (admin)');
      expect(cli('migrate')).toContain('up to date');
      const { rows } = await db.query('SELECT is_admin FROM hs_users WHERE user_id = $1', ['@root:cli.test']);
      expect(rows).toEqual([{ is_admin: true }]);
      expect(() => cli('create-user', 'Bad Name', '--password', 'root password')).toThrow();
      let stderr = '';
      try {
        execFileSync(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'start'], {
          cwd: root,
          env: { ...env, CAUSEWAY__LISTEN__PORT: 'eighty' },
          stdio: 'pipe',
        });
      } catch (err) {
        stderr = String((err as { stderr: Buffer }).stderr);
      }
      expect(stderr).toContain('/listen/port');
    } finally {
      await db.close();
    }
  });
});
