import { afterAll, beforeAll, expect, it } from 'vitest';
import { freshSchemaDb } from '../../helpers/database.js';
import { SessionLockConnection } from '../../../homeserver/storage/session-lease.js';

let db: Awaited<ReturnType<typeof freshSchemaDb>>;
let other: Awaited<ReturnType<typeof freshSchemaDb>>;
const open: SessionLockConnection[] = [];

/** A process's lease connection (closed after the file). */
function connection(on = db): SessionLockConnection {
  const c = new SessionLockConnection(on);
  open.push(c);
  return c;
}

/** Backends holding the session advisory lock of `key` in this schema (as SessionLockConnection keys it). */
async function holders(key: string): Promise<number[]> {
  const { rows } = await db.query<{ pid: number }>(
    `WITH k AS (SELECT hashtext(current_schema() || ':' || $1)::bigint AS v)
     SELECT l.pid FROM pg_locks l, k WHERE l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted
       AND l.objid::bigint = (k.v & 4294967295) AND l.classid::bigint = ((k.v >> 32) & 4294967295)`,
    [key],
  );
  return rows.map((r) => r.pid);
}

beforeAll(async () => {
  db = await freshSchemaDb(2);
  other = await freshSchemaDb(2);
});
afterAll(async () => {
  for (const c of open) await c.close();
  await db?.close();
  await other?.close();
});

it('one holder per key across processes; released leases and closed connections let another take over', async () => {
  const a = connection().lease('work');
  const b = connection().lease('work');
  expect(await a.tryAcquire()).toBe(true);
  expect(await b.tryAcquire()).toBe(false);
  expect(await a.tryAcquire()).toBe(true); // already held: still held
  await a.release();
  expect(a.held).toBe(false);
  expect(await b.tryAcquire()).toBe(true);

  // Session locks are re-entrant per connection: a second lease on the same connection is refused.
  const shared = connection();
  const first = shared.lease('one');
  const again = shared.lease('one');
  expect(await first.tryAcquire()).toBe(true);
  expect(await again.tryAcquire()).toBe(false);
  // Several keys on one connection are independent; closing it gives all of them up without onLost.
  const second = shared.lease('two');
  let lostOnClose = false;
  second.onLost(() => (lostOnClose = true));
  expect(await second.tryAcquire()).toBe(true);
  await shared.close();
  expect([first.held, second.held, lostOnClose]).toEqual([false, false, false]);
  expect(await connection().lease('two').tryAcquire()).toBe(true);
  expect(await shared.lease('one').tryAcquire()).toBe(false); // closed for good
});

it('keys are scoped by schema', async () => {
  expect(await connection().lease('scoped').tryAcquire()).toBe(true);
  expect(await connection(other).lease('scoped').tryAcquire()).toBe(true);
});

it('a dropped connection loses every lease on it (onLost), and the next attempt reconnects', async () => {
  const locks = connection();
  const x = locks.lease('x');
  const y = locks.lease('y');
  const lost: string[] = [];
  x.onLost(() => lost.push('x'));
  y.onLost(() => lost.push('y'));
  expect(await x.tryAcquire()).toBe(true);
  expect(await y.tryAcquire()).toBe(true);
  const [pid] = await holders('x');
  expect(pid).toEqual(expect.any(Number));
  await db.query('SELECT pg_terminate_backend($1)', [pid]);
  await expect.poll(() => lost.sort(), { timeout: 5000 }).toEqual(['x', 'y']);
  expect([x.held, y.held]).toEqual([false, false]);

  // Another process may take it now; once it lets go, this one takes it on a new connection.
  const rival = connection().lease('x');
  expect(await rival.tryAcquire()).toBe(true);
  expect(await x.tryAcquire()).toBe(false);
  await rival.release();
  expect(await x.tryAcquire()).toBe(true);
  expect(await holders('x')).not.toContain(pid);
});
