import { describe, expect, it } from 'vitest';
import { configFrom } from '../../../homeserver/config.js';
import { ConfigError } from '../../../homeserver/runtime/config-loader.js';
import { registrationDocument } from '../../../bridges/core/matrix/registration.js';
import { parseRegistration } from '../../../appservice-api/registration/parse-registration.js';

describe('bridge config', () => {
  it('fills each bridge entry with its defaults', () => {
    const c = configFrom({ bridges: [{ id: 'telegram', network: 'telegram', crypto_store: { master_key_file: '/run/secrets/tg' } }] });
    expect(c.bridges[0]).toMatchObject({
      id: 'telegram',
      appservice: { mode: 'inproc', listen_port: 29330 },
      backfill: { initial_limit: 50 },
      outbox: { max_attempts: 6, base_backoff_ms: 1000, retention_hours: 168 },
      crypto_store: { master_key_file: '/run/secrets/tg' },
    });
  });

  it('reports a bad entry with its path', () => {
    let problems: string[] = [];
    try {
      configFrom({ bridges: [{ id: 'Bad Id', network: 'x', appservice: { mode: 'carrier-pigeon' } }] });
    } catch (err) {
      if (err instanceof ConfigError) problems = err.problems;
    }
    expect(problems.some((p) => p.startsWith('/bridges/0/id'))).toBe(true);
    expect(problems.some((p) => p.startsWith('/bridges/0/appservice/mode'))).toBe(true);
  });
});

describe('bridge registration', () => {
  it('is a valid registration with exclusive namespaces, ephemeral events and no rate limit', () => {
    const doc = registrationDocument({
      bridgeId: 'fakenet',
      networkId: 'fakenet',
      serverName: 'example.org',
      url: 'inproc://fakenet',
      asToken: 'a'.repeat(43),
      hsToken: 'h'.repeat(43),
    });
    const reg = parseRegistration(doc);
    expect(reg).toMatchObject({
      id: 'fakenet',
      senderLocalpart: 'fakenetbot',
      rateLimited: false,
      receiveEphemeral: true,
      url: 'inproc://fakenet',
    });
    expect(reg.namespaces.users[0]!.regex.test('@fakenet_u1:example.org')).toBe(true);
    expect(reg.namespaces.users[0]!.regex.test('@fakenet_u1:exampleXorg')).toBe(false);
    expect(reg.namespaces.aliases[0]).toMatchObject({ exclusive: true });
  });
});
