import type { InjectOptions } from 'fastify';
import { configFrom, type Config } from '../../homeserver/config.js';
import { createPlatform, type Platform } from '../../homeserver/platform.js';
import { createLogger } from '../../homeserver/runtime/logger.js';
import { freshSchemaDb } from './database.js';

export const SERVER_NAME = 'test.local';

export function testConfig(overrides: Record<string, unknown> = {}): Config {
  return configFrom({
    server_name: SERVER_NAME,
    registration: { enabled: true, shared_secret: 'a-test-shared-secret-0123456789' },
    database: { engine: 'postgres', url: 'unused-tests-pass-a-db' },
    log: { level: process.env.TEST_LOG_LEVEL ?? 'silent' },
    limits: {
      // Generous limits so functional tests never trip them; rate-limit tests set their own.
      rate_limits: {
        login: { per_second: 1000, burst: 1000 },
        register: { per_second: 1000, burst: 1000 },
        send: { per_second: 10000, burst: 10000 },
      },
    },
    ...overrides,
  });
}

/** A whole platform on real Postgres (own schema) with the memory runtime; closed by the caller. */
export async function buildPlatform(overrides: Record<string, unknown> = {}): Promise<Platform> {
  const config = testConfig(overrides);
  const db = await freshSchemaDb();
  const platform = await createPlatform({ config, db, log: createLogger(config.log.level) });
  return {
    ...platform,
    async close() {
      await platform.close();
      await db.close();
    },
  };
}

export interface TestUser {
  userId: string;
  deviceId: string;
  accessToken: string;
  auth: { authorization: string };
}

/** Registers a user through the real /register endpoint (UIA dummy flow). */
export async function makeUser(p: Platform, localpart: string, password = 'correct horse battery'): Promise<TestUser> {
  const first = await p.app.inject({ method: 'POST', url: '/_matrix/client/v3/register', payload: { username: localpart, password } });
  const session = first.json().session;
  const res = await p.app.inject({
    method: 'POST',
    url: '/_matrix/client/v3/register',
    payload: { username: localpart, password, auth: { type: 'm.login.dummy', session } },
  });
  if (res.statusCode !== 200) throw new Error(`register ${localpart}: ${res.statusCode} ${res.body}`);
  const body = res.json();
  return {
    userId: body.user_id,
    deviceId: body.device_id,
    accessToken: body.access_token,
    auth: { authorization: `Bearer ${body.access_token}` },
  };
}

/** app.inject with a user's token; returns status and parsed JSON. */
export async function call(p: Platform, user: TestUser | undefined, method: InjectOptions['method'], url: string, payload?: unknown) {
  const res = await p.app.inject({ method, url, headers: user?.auth, ...(payload !== undefined ? { payload: payload as object } : {}) });
  let body: any;
  try {
    body = res.json();
  } catch {
    body = res.body;
  }
  return { status: res.statusCode, body };
}

export const enc = encodeURIComponent;
