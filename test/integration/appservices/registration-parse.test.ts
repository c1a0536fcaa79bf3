import { describe, expect, it } from 'vitest';
import {
  conflictsWith,
  parseRegistration,
  parseRegistrationText,
  RegistrationError,
} from '../../../appservice-api/registration/parse-registration.js';

const base = {
  id: 'telegram',
  url: 'http://127.0.0.1:29317',
  as_token: 'as-telegram',
  hs_token: 'hs-telegram',
  sender_localpart: 'telegrambot',
  namespaces: {
    users: [{ exclusive: true, regex: '@telegram_.*:example\\.org' }],
    aliases: [{ exclusive: true, regex: '#telegram_.*:example\\.org' }],
    rooms: [],
  },
};

function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof RegistrationError) return err.issues.map((i) => i.path);
    throw err;
  }
  throw new Error('expected a RegistrationError');
}

describe('registration parsing', () => {
  it('reads a Synapse/mautrix-style YAML file', () => {
    const reg = parseRegistrationText(`
id: whatsapp
url: inproc://whatsapp
as_token: a
hs_token: b
sender_localpart: whatsappbot
rate_limited: false
receive_ephemeral: true
de.sorunome.msc2409.push_ephemeral: true
org.matrix.msc3202: true
io.element.msc4190: true
protocols: [whatsapp]
namespaces:
  users:
    - exclusive: true
      regex: '@whatsapp_[0-9]+:example\\.org'
`);
    expect(reg).toMatchObject({
      id: 'whatsapp',
      url: 'inproc://whatsapp',
      asToken: 'a',
      hsToken: 'b',
      rateLimited: false,
      receiveEphemeral: true,
      msc3202: true,
      msc4190: true,
      protocols: ['whatsapp'],
    });
    expect(reg.namespaces.users[0]!.regex.test('@whatsapp_123:example.org')).toBe(true);
    // Anchored at both ends.
    expect(reg.namespaces.users[0]!.regex.test('x@whatsapp_123:example.org')).toBe(false);
    expect(reg.namespaces.users[0]!.regex.test('@whatsapp_123:example.org.evil')).toBe(false);
  });

  it('accepts url: null and defaults rate_limited to true', () => {
    const reg = parseRegistration({ ...base, url: null, namespaces: undefined });
    expect(reg.url).toBeNull();
    expect(reg.rateLimited).toBe(true);
    expect(reg.namespaces).toEqual({ users: [], aliases: [], rooms: [] });
  });

  it('names every bad field', () => {
    expect(issuesOf(() => parseRegistration({ ...base, as_token: undefined, hs_token: '' }))).toEqual(['as_token', 'hs_token']);
    expect(issuesOf(() => parseRegistration({ ...base, id: undefined, sender_localpart: undefined }))).toEqual(['id', 'sender_localpart']);
    expect(issuesOf(() => parseRegistration({ ...base, url: 'ftp://x' }))).toEqual(['url']);
    expect(issuesOf(() => parseRegistration({ ...base, hs_token: base.as_token }))).toEqual(['hs_token']);
    expect(
      issuesOf(() =>
        parseRegistration({
          ...base,
          namespaces: { users: [{ exclusive: true, regex: '@bad_(:x' }], aliases: 'nope', rooms: [{ exclusive: 'yes', regex: '!a' }] },
        }),
      ),
    ).toEqual(['namespaces.users[0].regex', 'namespaces.aliases', 'namespaces.rooms[0].exclusive']);
    expect(issuesOf(() => parseRegistration({ ...base, rate_limited: 'no', protocols: 'telegram' }))).toEqual([
      'protocols',
      'rate_limited',
    ]);
    expect(issuesOf(() => parseRegistrationText('id: [unclosed'))).toEqual(['(file)']);
  });

  it('puts the field path in the message', () => {
    expect(() => parseRegistration({ ...base, namespaces: { users: [{ exclusive: true, regex: '(' }] } })).toThrow(
      /namespaces\.users\[0\]\.regex: is not a valid regular expression/,
    );
  });

  it('detects duplicate tokens and ids across registrations', () => {
    const telegram = parseRegistration(base);
    const other = { ...base, id: 'other', sender_localpart: 'otherbot', namespaces: {} };
    expect(
      conflictsWith(parseRegistration({ ...other, as_token: 'as-telegram', hs_token: 'x' }), [telegram], 'example.org').map((i) => i.path),
    ).toEqual(['as_token']);
    expect(
      conflictsWith(parseRegistration({ ...other, as_token: 'y', hs_token: 'hs-telegram' }), [telegram], 'example.org').map((i) => i.path),
    ).toEqual(['hs_token']);
    expect(
      conflictsWith(parseRegistration({ ...base, as_token: 'y', hs_token: 'z' }), [telegram], 'example.org').map((i) => i.path),
    ).toEqual(['id']);
  });

  it('detects overlapping exclusive namespaces conservatively', () => {
    const telegram = parseRegistration(base);
    const mk = (users: string[], exclusive = true, aliases: string[] = []) =>
      parseRegistration({
        id: 'b',
        as_token: 'as-b',
        hs_token: 'hs-b',
        sender_localpart: 'bbot',
        namespaces: { users: users.map((regex) => ({ exclusive, regex })), aliases: aliases.map((regex) => ({ exclusive, regex })) },
      });
    const paths = (reg: ReturnType<typeof mk>) => conflictsWith(reg, [telegram], 'example.org').map((i) => i.path);
    // Identical regex.
    expect(paths(mk(['@telegram_.*:example\\.org']))).toEqual(['namespaces.users[0].regex']);
    // A broader regex matching the other's literal example.
    expect(paths(mk(['@telegram_.+']))).toEqual(['namespaces.users[0].regex']);
    // Claiming the other appservice's sender.
    expect(paths(mk(['@telegrambot:example\\.org']))).toEqual(['namespaces.users[0].regex']);
    // Aliases too.
    expect(paths(mk([], true, ['#telegram_.*:example\\.org']))).toEqual(['namespaces.aliases[0].regex']);
    // Disjoint, or not exclusive: fine.
    expect(paths(mk(['@whatsapp_.*:example\\.org']))).toEqual([]);
    expect(paths(mk(['@telegram_.*:example\\.org'], false))).toEqual([]);
  });
});
