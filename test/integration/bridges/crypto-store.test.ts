import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect, promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CryptoKeyOpenError,
  CryptoStore,
  LeaseLostError,
  loadMasterKey,
  MasterKeyError,
  MasterKeyMismatchError,
  LOGIN_SECRETS_NAMESPACE,
  saveLoginSecrets,
  type MasterKey,
} from '../../../bridges/core/crypto-store/index.js';
import { FakeNetwork, FakenetConnector, makeLoginId, testLoginContext } from '../../fakes/fakenet/index.js';
import { deriveLoginKey } from '../../../bridges/core/crypto-store/key-derivation.js';
import { open, seal, SEALED_VERSION, SealedBoxError } from '../../../bridges/core/crypto-store/sealed-box.js';
import { BRIDGE_MIGRATIONS } from '../../../bridges/core/storage/bridge-migrations.js';
import { migrate } from '../../../homeserver/storage/migrate.js';
import { freshSchemaDb, TEST_DATABASE_URL } from '../../helpers/database.js';

/** The crypto store against real Postgres: sealing, durability, fencing and the LRU. */
let db: Awaited<ReturnType<typeof freshSchemaDb>>;
const masterKey = () => loadMasterKey({ value: randomBytes(32).toString('base64') });
let master: MasterKey;
let n = 0;
/** A bridge id of its own per test: tests share the schema but never each other's rows. */
const freshBridge = () => `bridge${++n}`;
const bytes = (s: string) => new TextEncoder().encode(s);

beforeAll(async () => {
  db = await freshSchemaDb();
  await migrate(db, [BRIDGE_MIGRATIONS]);
  master = masterKey();
});
afterAll(() => db?.close());

async function setLease(bridgeId: string, loginId: string, token: number) {
  await db.query(
    `INSERT INTO bridge_login_leases (bridge_id, login_id, owner, token, expires_at) VALUES ($1, $2, 'w', $3, now() + interval '1 minute')
     ON CONFLICT (bridge_id, login_id) DO UPDATE SET token = $3`,
    [bridgeId, loginId, token],
  );
}

/** pg_dump of the test schema's data; where pg_dump is not installed, every row as text and bytea in hex, escape and base64. */
async function dumpSchema(): Promise<string> {
  try {
    const { stdout } = await promisify(execFile)('pg_dump', ['--data-only', '--schema', db.schema, TEST_DATABASE_URL], {
      maxBuffer: 64 * 1024 * 1024,
      encoding: 'latin1',
    });
    return stdout;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    const { rows } = await db.query<{ line: string }>(
      `SELECT 'bridge_crypto_keys ' || bridge_id || ' ' || login_id || ' ' || namespace || ' ' || key_id || ' ' ||
              encode(sealed, 'hex') || ' ' || encode(sealed, 'escape') || ' ' || encode(sealed, 'base64') AS line FROM bridge_crypto_keys`,
    );
    return rows.map((r) => r.line).join('\n');
  }
}

async function rowCount(bridgeId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM bridge_crypto_keys WHERE bridge_id = $1', [bridgeId]);
  return rows[0]!.n;
}

describe('crypto store', () => {
  it('round-trips get/set/getMany/setMany/list/delete', async () => {
    const store = new CryptoStore({ db, bridgeId: freshBridge(), masterKey: master });
    const keys = store.forLogin('login-a');
    expect(await keys.get('session', 'main')).toBeUndefined();

    await keys.set('session', 'main', bytes('auth-key-1'));
    expect(await keys.get('session', 'main')).toEqual(bytes('auth-key-1'));
    await keys.set('session', 'main', bytes('auth-key-2'));
    expect(await keys.get('session', 'main')).toEqual(bytes('auth-key-2'));

    await keys.setMany([
      { namespace: 'pre-key', keyId: '1', value: bytes('p1') },
      { namespace: 'pre-key', keyId: '2', value: bytes('p2') },
      { namespace: 'pre-key', keyId: '3', value: bytes('p3') },
      { namespace: 'session', keyId: 'main', value: null },
    ]);
    expect(await keys.get('session', 'main')).toBeUndefined();
    expect(await keys.list('pre-key')).toEqual(['1', '2', '3']);
    const many = await keys.getMany('pre-key', ['1', '3', '9']);
    expect([...many.entries()]).toEqual([
      ['1', bytes('p1')],
      ['3', bytes('p3')],
    ]);

    await keys.delete('pre-key', '2');
    expect(await keys.list('pre-key')).toEqual(['1', '3']);
    // Empty values and a returned copy that the caller mutates do not disturb the store.
    await keys.set('empty', 'x', new Uint8Array(0));
    expect(await keys.get('empty', 'x')).toEqual(new Uint8Array(0));
    const got = (await keys.get('pre-key', '1'))!;
    got.fill(0);
    expect(await keys.get('pre-key', '1')).toEqual(bytes('p1'));
  });

  it('is durable: a fresh store (a new process, cold cache) reads what set() acknowledged', async () => {
    const bridgeId = freshBridge();
    const first = new CryptoStore({ db, bridgeId, masterKey: master });
    await first.forLogin('l1').setMany([
      { namespace: 'identity', keyId: 'signal', value: bytes('identity-key') },
      { namespace: 'app-state', keyId: 'k', value: bytes('app-state-key') },
    ]);
    await first.forLogin('l1').set('auth', 'key', bytes('tg-auth-key'));

    const second = new CryptoStore({ db, bridgeId, masterKey: master });
    expect(second.cachedBytes()).toBe(0);
    const keys = second.forLogin('l1');
    expect(await keys.get('auth', 'key')).toEqual(bytes('tg-auth-key'));
    expect(await keys.getMany('identity', ['signal'])).toEqual(new Map([['signal', bytes('identity-key')]]));
    expect(await keys.get('app-state', 'k')).toEqual(bytes('app-state-key'));
  });

  it('stores no plaintext key bytes, nor their base64 or hex, in a database dump', async () => {
    const bridgeId = freshBridge();
    const store = new CryptoStore({ db, bridgeId, masterKey: master });
    const secrets = Array.from({ length: 5 }, () => randomBytes(64));
    await store.forLogin('dumped').setMany(secrets.map((value, i) => ({ namespace: 'ns', keyId: String(i), value })));
    await store.forLogin('dumped').set('login', 'session', bytes('session-token-visible-if-plain'));

    const stdout = await dumpSchema();
    expect(stdout).toContain('bridge_crypto_keys');
    expect(stdout).toContain(bridgeId); // the rows are there...
    for (const s of secrets) {
      // ...but none of the forms a value could take in a dump: bytea hex, base64, raw.
      for (const needle of [
        s.toString('hex'),
        s.subarray(0, 24).toString('hex'),
        s.toString('base64').slice(0, 32),
        s.toString('latin1'),
      ]) {
        expect(stdout.includes(needle)).toBe(false);
      }
    }
    expect(stdout).not.toContain('session-token-visible-if-plain');
    expect(stdout).not.toContain(Buffer.from('session-token-visible-if-plain').toString('hex'));
    expect(stdout).not.toContain(Buffer.from(master.bytes()).toString('hex'));
    expect(stdout).not.toContain(Buffer.from(master.bytes()).toString('base64'));
  });

  it('refuses to open with the wrong master key, clearly', async () => {
    const bridgeId = freshBridge();
    const right = new CryptoStore({ db, bridgeId, masterKey: master });
    await right.checkMasterKey(); // first run records the check value
    await right.checkMasterKey();
    await right.forLogin('l').set('auth', 'key', bytes('secret'));

    const wrong = new CryptoStore({ db, bridgeId, masterKey: masterKey() });
    await expect(wrong.checkMasterKey()).rejects.toBeInstanceOf(MasterKeyMismatchError);
    const err = await wrong
      .forLogin('l')
      .get('auth', 'key')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CryptoKeyOpenError);
    expect(err).toMatchObject({ reason: 'cannot-authenticate', namespace: 'auth', keyId: 'key' });
    expect((err as Error).message).toMatch(/wrong master key/);
  });

  it('refuses a ciphertext copied to another login or another key id', async () => {
    const bridgeId = freshBridge();
    const store = new CryptoStore({ db, bridgeId, masterKey: master });
    await store.forLogin('victim').set('auth', 'key', bytes('victim-secret'));
    await store.forLogin('attacker').set('auth', 'key', bytes('attacker-own'));
    await store.forLogin('victim').set('auth', 'other', bytes('other'));
    const copy = (toLogin: string, toKey: string) =>
      db.query(
        `UPDATE bridge_crypto_keys SET sealed = (SELECT sealed FROM bridge_crypto_keys WHERE bridge_id = $1 AND login_id = 'victim' AND key_id = 'key')
         WHERE bridge_id = $1 AND login_id = $2 AND key_id = $3`,
        [bridgeId, toLogin, toKey],
      );
    await copy('attacker', 'key');
    await copy('victim', 'other');

    const fresh = new CryptoStore({ db, bridgeId, masterKey: master }); // cold cache: reads the rows
    await expect(fresh.forLogin('attacker').get('auth', 'key')).rejects.toMatchObject({ reason: 'cannot-authenticate' });
    await expect(fresh.forLogin('victim').get('auth', 'other')).rejects.toMatchObject({ reason: 'wrong-row' });
    expect(await fresh.forLogin('victim').get('auth', 'key')).toEqual(bytes('victim-secret'));
  });

  it('fenced writes succeed under the current lease token and write nothing under a stale one', async () => {
    const bridgeId = freshBridge();
    const store = new CryptoStore({ db, bridgeId, masterKey: master });
    await setLease(bridgeId, 'l', 7);
    const holder = store.forLogin('l', { token: 7 });
    await holder.set('auth', 'key', bytes('v1'));
    await holder.setMany([{ namespace: 'pre-key', keyId: '1', value: bytes('p') }]);
    expect(await rowCount(bridgeId)).toBe(2);

    await setLease(bridgeId, 'l', 8); // another worker took the login over
    await expect(holder.set('auth', 'key', bytes('v2'))).rejects.toBeInstanceOf(LeaseLostError);
    await expect(
      holder.setMany([
        { namespace: 'auth', keyId: 'key', value: bytes('v3') },
        { namespace: 'pre-key', keyId: '2', value: bytes('q') },
      ]),
    ).rejects.toBeInstanceOf(LeaseLostError);
    await expect(holder.delete('pre-key', '1')).rejects.toBeInstanceOf(LeaseLostError);

    const cold = new CryptoStore({ db, bridgeId, masterKey: master }).forLogin('l');
    expect(await cold.get('auth', 'key')).toEqual(bytes('v1'));
    expect(await cold.list('pre-key')).toEqual(['1']);
    expect(await holder.get('auth', 'key')).toEqual(bytes('v1')); // the refused write left no cache entry either

    // A fence function follows the current token; undefined means the lease is gone.
    let current: { token: number } | undefined = { token: 8 };
    const follower = store.forLogin('l', () => current);
    await follower.set('auth', 'key', bytes('v4'));
    current = undefined;
    await expect(follower.set('auth', 'key', bytes('v5'))).rejects.toBeInstanceOf(LeaseLostError);
    expect(await new CryptoStore({ db, bridgeId, masterKey: master }).forLogin('l').get('auth', 'key')).toEqual(bytes('v4'));
    // No lease row at all: a fenced write is refused too.
    await expect(store.forLogin('unleased', { token: 1 }).set('a', 'b', bytes('c'))).rejects.toBeInstanceOf(LeaseLostError);
  });

  it('a fenced write racing a takeover waits for it, then writes nothing', async () => {
    const bridgeId = freshBridge();
    const store = new CryptoStore({ db, bridgeId, masterKey: master });
    await setLease(bridgeId, 'l', 1);
    await store.forLogin('l', { token: 1 }).set('auth', 'key', bytes('before'));
    let token = 1;

    /** Another worker takes the lease over; `write` starts while its transaction is open and must wait on it. */
    async function raceTakeover(write: () => Promise<void>) {
      let commit!: () => void;
      const committed = new Promise<void>((r) => (commit = r));
      let ready!: (pid: number) => void;
      const locked = new Promise<number>((r) => (ready = r));
      const takeover = db.withTransaction(async (tx) => {
        await tx.query('UPDATE bridge_login_leases SET token = $2 WHERE bridge_id = $1', [bridgeId, ++token]);
        ready((await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid);
        await committed;
      });
      const pid = await locked;
      const result = write().then(
        () => 'written',
        (err: unknown) => err,
      );
      // The write is inside Postgres, blocked on the lease row the takeover holds.
      await expect
        .poll(async () => (await db.query('SELECT 1 FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))', [pid])).rowCount, {
          timeout: 10_000,
        })
        .toBe(1);
      commit();
      await takeover;
      expect(await result).toBeInstanceOf(LeaseLostError);
    }
    await raceTakeover(() => store.forLogin('l', { token: 1 }).set('auth', 'key', bytes('during')));
    await raceTakeover(() => store.forLogin('l', { token: 2 }).setMany([{ namespace: 'auth', keyId: 'other', value: bytes('during') }]));

    const cold = new CryptoStore({ db, bridgeId, masterKey: master }).forLogin('l');
    expect(await cold.get('auth', 'key')).toEqual(bytes('before'));
    expect(await cold.get('auth', 'other')).toBeUndefined();
  });

  it('applies concurrent writes of one login in call order', async () => {
    const bridgeId = freshBridge();
    const keys = new CryptoStore({ db, bridgeId, masterKey: master }).forLogin('l');
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => keys.set('ns', 'k', bytes(`v${i}`))).concat([keys.get('ns', 'k').then(() => {})]),
    );
    expect(await keys.get('ns', 'k')).toEqual(bytes('v9'));
    expect(await new CryptoStore({ db, bridgeId, masterKey: master }).forLogin('l').get('ns', 'k')).toEqual(bytes('v9'));
  });

  it('keeps a byte-bounded LRU shared by logins, reported per login', async () => {
    const bridgeId = freshBridge();
    const store = new CryptoStore({ db, bridgeId, masterKey: master, cacheBytes: 8 * 1024 });
    const a = store.forLogin('a');
    const b = store.forLogin('b');
    await a.set('ns', 'big', new Uint8Array(3000).fill(1));
    expect(a.cachedBytes()).toBeGreaterThanOrEqual(3000);
    expect(store.cachedBytesFor('a')).toBe(a.cachedBytes());
    await b.set('ns', 'big', new Uint8Array(3000).fill(2));
    expect(store.cachedBytes()).toBe(a.cachedBytes() + b.cachedBytes());

    await a.get('ns', 'big'); // a's entry is now the most recently used
    await b.set('ns', 'big2', new Uint8Array(3000).fill(3)); // over 8 KiB: evicts b's first entry
    expect(store.cachedBytes()).toBeLessThanOrEqual(8 * 1024);
    expect(a.cachedBytes()).toBeGreaterThanOrEqual(3000);
    expect(b.cachedBytes()).toBeGreaterThanOrEqual(3000);
    expect(b.cachedBytes()).toBeLessThan(6000);

    // The cache serves reads: with the row deleted behind its back, a cached read still sees the value.
    await db.query(`DELETE FROM bridge_crypto_keys WHERE bridge_id = $1 AND login_id = 'a' AND key_id = 'big'`, [bridgeId]);
    expect(await a.get('ns', 'big')).toEqual(new Uint8Array(3000).fill(1));

    // Evicted values still come from Postgres; a value larger than the cache is never cached.
    expect(await b.get('ns', 'big')).toEqual(new Uint8Array(3000).fill(2));
    await a.set('ns', 'huge', new Uint8Array(20_000));
    expect(store.cachedBytes()).toBeLessThanOrEqual(8 * 1024);
    expect(await a.get('ns', 'huge')).toEqual(new Uint8Array(20_000));
  });

  it('deleteLogin removes every key of one login and its cached values, and nothing else', async () => {
    const bridgeId = freshBridge();
    const store = new CryptoStore({ db, bridgeId, masterKey: master });
    await store.forLogin('gone').setMany([
      { namespace: 'a', keyId: '1', value: bytes('x') },
      { namespace: 'b', keyId: '2', value: bytes('y') },
    ]);
    await store.forLogin('kept').set('a', '1', bytes('z'));
    expect(await store.deleteLogin('gone')).toBe(2);
    expect(store.cachedBytesFor('gone')).toBe(0);
    expect(await store.forLogin('gone').get('a', '1')).toBeUndefined();
    expect(await store.forLogin('kept').get('a', '1')).toEqual(bytes('z'));
    expect(await rowCount(bridgeId)).toBe(1);
  });
});

describe('with a network client', () => {
  it('a completed login saved with saveLoginSecrets lets the fakenet client connect from a new process', async () => {
    const bridgeId = freshBridge();
    const net = new FakeNetwork();
    const bob = net.addUser({ name: 'Bob' });
    const token = net.createSession(bob.id);
    const loginId = makeLoginId(bob.id);
    await saveLoginSecrets(new CryptoStore({ db, bridgeId, masterKey: master }).forLogin(loginId), { session: bytes(token) });

    const t = testLoginContext({ loginId });
    const ctx = { ...t.ctx, keys: new CryptoStore({ db, bridgeId, masterKey: master }).forLogin(loginId) };
    await new FakenetConnector(net).loadLogin(ctx).connect(ctx.signal);
    expect(t.states.map((s) => s.stateEvent)).toEqual(['CONNECTED']);
    expect(net.connectionCount(bob.id)).toBe(1);
    const { rows } = await db.query<{ namespace: string; key_id: string }>(
      'SELECT namespace, key_id FROM bridge_crypto_keys WHERE bridge_id = $1',
      [bridgeId],
    );
    expect(rows).toEqual([{ namespace: LOGIN_SECRETS_NAMESPACE, key_id: 'session' }]);
    t.abort();
  });
});

describe('key derivation and sealing', () => {
  const row = { bridgeId: 'b', loginId: 'l', namespace: 'n', keyId: 'k' };

  it('derives distinct keys per bridge and login, unambiguously', () => {
    const k = (bridge: string, login: string) => Buffer.from(deriveLoginKey(master, bridge, login)).toString('hex');
    const all = [k('b', 'l1'), k('b', 'l2'), k('b2', 'l1'), k('ab', 'c'), k('a', 'bc')];
    expect(new Set(all).size).toBe(all.length);
    expect(k('b', 'l1')).toBe(k('b', 'l1'));
    expect(k('b', 'l1')).not.toBe(Buffer.from(deriveLoginKey(masterKey(), 'b', 'l1')).toString('hex'));
  });

  it('seals with a version byte and a fresh nonce; any altered byte fails to open', () => {
    const key = deriveLoginKey(master, 'b', 'l');
    const a = seal(key, row, bytes('same value'));
    const b = seal(key, row, bytes('same value'));
    expect(a[0]).toBe(SEALED_VERSION);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
    expect(open(key, row, a)).toEqual(bytes('same value'));
    for (const i of [1, 30, a.length - 1]) {
      const bad = Uint8Array.from(a);
      bad[i]! ^= 1;
      expect(() => open(key, row, bad)).toThrow(SealedBoxError);
    }
    const future = Uint8Array.from(a);
    future[0] = 2;
    expect(() => open(key, row, future)).toThrow(/unknown sealed format version 2/);
    expect(() => open(key, { ...row, keyId: 'k2' }, a)).toThrow(expect.objectContaining({ reason: 'wrong-row' }));
  });
});

describe('master key loading', () => {
  const dir = mkdtempSync(join(tmpdir(), 'causeway-master-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const fields = { value: 'bridges.telegram.crypto_store.master_key', file: 'bridges.telegram.crypto_store.master_key_file' };

  it('loads base64 from config, raw bytes or base64 from a file', () => {
    const raw = randomBytes(32);
    expect(Buffer.from(loadMasterKey({ value: raw.toString('base64') }).bytes()).equals(raw)).toBe(true);
    expect(Buffer.from(loadMasterKey({ value: raw.toString('base64url') }).bytes()).equals(raw)).toBe(true);
    writeFileSync(join(dir, 'raw'), raw);
    expect(Buffer.from(loadMasterKey({ file: join(dir, 'raw') }).bytes()).equals(raw)).toBe(true);
    writeFileSync(join(dir, 'b64'), `${raw.toString('base64')}\n`);
    expect(Buffer.from(loadMasterKey({ file: join(dir, 'b64') }).bytes()).equals(raw)).toBe(true);
  });

  it('names the field when the secret is missing, short, unreadable or a placeholder, and never shows it', () => {
    const problem = (src: { value?: string; file?: string }) => {
      try {
        loadMasterKey(src, fields);
      } catch (err) {
        expect(err).toBeInstanceOf(MasterKeyError);
        return (err as Error).message;
      }
      throw new Error('expected a MasterKeyError');
    };
    expect(problem({})).toMatch(/^bridges\.telegram\.crypto_store\.master_key: missing/);
    const short = randomBytes(16).toString('base64');
    expect(problem({ value: short })).toMatch(/^bridges\.telegram\.crypto_store\.master_key: too short: need at least 32 bytes, got 16$/);
    expect(problem({ value: 'not base64 !!' })).toMatch(/master_key: is not valid base64/);
    expect(problem({ value: Buffer.alloc(32).toString('base64') })).toMatch(/master_key: looks like a placeholder/);
    expect(problem({ file: join(dir, 'nope') })).toMatch(/^bridges\.telegram\.crypto_store\.master_key_file: cannot read .* \(ENOENT\)$/);
    writeFileSync(join(dir, 'short'), randomBytes(10));
    expect(problem({ file: join(dir, 'short') })).toMatch(/master_key_file: too short/);
    expect(problem({ value: short, file: join(dir, 'short') })).toMatch(/not both/);
    expect(problem({ value: short })).not.toContain(short);
  });

  it('keeps the secret out of JSON, inspect and string conversion', () => {
    const secret = randomBytes(32);
    const key = loadMasterKey({ value: secret.toString('base64') });
    const shown = [JSON.stringify({ key }), inspect({ key }), `${key}`].join(' ');
    expect(shown).not.toContain(secret.toString('base64'));
    expect(shown).not.toContain(secret.toString('hex'));
    expect(shown).toContain('[MasterKey]');
  });
});
