import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loginId } from '../../../bridges/core/network/ids.js';
import { eventually, loginDirectly } from '../../helpers/bridge.js';
import { makeUser, type TestUser } from '../../helpers/platform.js';
import { call, startCluster, type BridgeCluster, type Response, type Worker } from './bridge-workers.js';

/**
 * contacts, resolve_identifier and create_dm on any worker of a bridge: the login's network
 * client runs only in the worker holding its session lease (A here), and B, which does not run
 * it, forwards the call there over pub/sub and answers with A's exact status and body.
 */
/** Well past the relay's 2 s acknowledgement timeout, far below a hang. */
const PROMPT_MS = 5_000;
const notRunning = { errcode: 'IO.CAUSEWAY_LOGIN_NOT_RUNNING', error: 'The login is not connected in this bridge process' };
const loginNotFound = { errcode: 'M_NOT_FOUND', error: 'Login not found' };

let cluster: BridgeCluster;
let a: Worker;
let b: Worker;
let alice: TestUser;
let bob: TestUser;
let me: { id: string; phone?: string };
let friend: { id: string; phone?: string };
let carol: { id: string; phone?: string };

/** The same request through A (the holder) and B: returns both answers, B's first. */
async function viaBoth(method: 'GET' | 'POST', path: string, as: string | TestUser): Promise<[Response, Response]> {
  const fromB = await call(b, method, path, as);
  const fromA = await call(a, method, path, as);
  return [fromB, fromA];
}

beforeAll(async () => {
  cluster = await startCluster('xw-logins');
  // No rebalancing: the logins stay with the worker the test gives them to.
  a = await cluster.startWorker({ pool: { balance: false } });
  b = await cluster.startWorker({ pool: { balance: false } });
  alice = await makeUser(cluster.p, 'alice');
  bob = await makeUser(cluster.p, 'bob');
  const { net } = cluster;
  me = net.addUser({ name: 'Alice Phone', phone: '+15550201' });
  friend = net.addUser({ name: 'Friend', phone: '+15550202' });
  carol = net.addUser({ name: 'Carol', phone: '+15550203' });
  net.dm(me.id, friend.id);
  await loginDirectly(a.bridge, cluster.keys, net, alice.userId, me.id);
});

afterAll(async () => {
  await cluster?.close();
});

describe('login calls across bridge workers', () => {
  it('runs the login on A only, and its lease names A on the relay', async () => {
    expect(a.bridge.pool.client(me.id)).toBeDefined();
    expect(b.bridge.pool.client(me.id)).toBeUndefined();
    expect(await b.bridge.pool.leaseHolderToken(me.id)).toBe(a.bridge.workerToken);
  });

  it('lists contacts and resolves identifiers through B exactly as through A', async () => {
    const forwards = vi.spyOn(b.bridge.provisioning.relay, 'forward');
    const [contactsB, contactsA] = await viaBoth('GET', '/contacts', alice);
    expect(contactsA.status).toBe(200);
    expect(contactsA.body.contacts).toEqual([expect.objectContaining({ id: friend.id, name: 'Friend' })]);
    expect(contactsB).toMatchObject({ status: contactsA.status, body: contactsA.body });
    expect(forwards).toHaveBeenCalledTimes(1);
    forwards.mockRestore();

    const byId = await viaBoth('GET', `/contacts?login_id=${me.id}`, alice);
    expect(byId[0]).toMatchObject({ status: 200, body: contactsA.body });
    expect(byId[1]).toMatchObject({ status: 200, body: contactsA.body });

    const [resolvedB, resolvedA] = await viaBoth('GET', `/resolve_identifier/${encodeURIComponent(carol.phone!)}?login_id=${me.id}`, alice);
    expect(resolvedA).toMatchObject({ status: 200, body: { id: carol.id, name: 'Carol', identifiers: [carol.phone] } });
    expect(resolvedB).toMatchObject({ status: resolvedA.status, body: resolvedA.body });

    // The holder's errors come back as they are.
    const [unknownB, unknownA] = await viaBoth('GET', '/resolve_identifier/%2B19999999999', alice.userId);
    expect(unknownA).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND', error: 'Identifier not found' } });
    expect(unknownB).toMatchObject({ status: unknownA.status, body: unknownA.body });
  });

  it('creates a DM through B (201, on A), then finds it through either worker (200)', async () => {
    const created = await call(b, 'POST', `/create_dm/${encodeURIComponent(carol.phone!)}`, alice);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: carol.id, name: 'Carol', dm_room_mxid: expect.stringMatching(/^!/) });
    const [againB, againA] = await viaBoth('POST', `/create_dm/${carol.id}`, alice);
    expect(againA).toMatchObject({ status: 200, body: created.body });
    expect(againB).toMatchObject({ status: 200, body: created.body });
    // The network now has the DM: the contact list shows its room, through B as through A.
    const [contactsB, contactsA] = await viaBoth('GET', '/contacts', alice);
    expect(contactsA.body.contacts).toContainEqual(expect.objectContaining({ id: carol.id, dm_room_mxid: created.body.dm_room_mxid }));
    expect(contactsB.body).toEqual(contactsA.body);
  });

  it('answers another user’s login id with 404 through B as through A, without forwarding', async () => {
    const forwards = vi.spyOn(b.bridge.provisioning.relay, 'forward');
    for (const as of [bob, bob.userId]) {
      for (const [method, path] of [
        ['GET', `/contacts?login_id=${me.id}`],
        ['GET', `/resolve_identifier/${carol.id}?login_id=${me.id}`],
        ['POST', `/create_dm/${carol.id}?login_id=${me.id}`],
      ] as const) {
        const [fromB, fromA] = await viaBoth(method, path, as);
        expect(fromA, path).toMatchObject({ status: 404, body: loginNotFound });
        expect(fromB, path).toMatchObject({ status: 404, body: loginNotFound });
      }
    }
    // Bob has no login at all.
    const [noneB, noneA] = await viaBoth('GET', '/contacts', bob);
    expect(noneA).toMatchObject({ status: 400, body: { errcode: 'FI.MAU.NOT_LOGGED_IN' } });
    expect(noneB).toMatchObject({ status: 400, body: noneA.body });
    expect(forwards).not.toHaveBeenCalled();
    forwards.mockRestore();
  });

  it('has the holder check ownership again for a forwarded call', async () => {
    // As if another worker had forwarded Bob's call for Alice's login: only A decides.
    const answer = await b.bridge.provisioning.relay.forward(a.bridge.workerToken, {
      user: bob.userId,
      call: { kind: 'contacts', loginId: me.id },
    });
    expect(answer).toEqual({ status: 404, body: loginNotFound });
    const malformed = await b.bridge.provisioning.relay.forward(a.bridge.workerToken, {
      user: alice.userId,
      call: { kind: 'create_dm', loginId: me.id },
    });
    expect(malformed).toMatchObject({ status: 500, body: { errcode: 'M_UNKNOWN' } });
  });

  it('answers 503 promptly when no worker holds the login’s lease', async () => {
    const idle = loginId('u-logged-out');
    const logins = a.bridge.portalDeps.userLogins;
    // Written in a terminal state in one transaction, so no takeover scan (A's and B's run every
    // second) can lease it in between: a worker left running a session for it would count it in
    // its fair share and could refuse the takeover the next test waits for.
    await cluster.p.db.withTransaction(async (tx) => {
      await logins.upsert({ loginId: idle, userMxid: alice.userId, remoteName: 'Logged out', metadata: {} }, tx);
      await logins.setState(idle, { stateEvent: 'LOGGED_OUT', timestamp: Date.now() }, tx);
    });
    const forwards = vi.spyOn(b.bridge.provisioning.relay, 'forward');
    for (const w of [a, b]) {
      const res = await call(w, 'GET', `/contacts?login_id=${idle}`, alice);
      expect(res).toMatchObject({ status: 503, body: notRunning });
      expect(res.ms).toBeLessThan(PROMPT_MS);
    }
    expect(forwards).not.toHaveBeenCalled();
    forwards.mockRestore();
    await logins.delete(idle);
  });

  it('answers 503 within seconds when the holder is silent, and works again once its lease is taken over', async () => {
    const c = await cluster.startWorker({ pool: { balance: false } });
    const other = cluster.net.addUser({ name: 'Alice Second', phone: '+15550204' });
    cluster.net.dm(other.id, carol.id);
    await loginDirectly(c.bridge, cluster.keys, cluster.net, alice.userId, other.id);
    const path = `/contacts?login_id=${other.id}`;
    const live = await call(b, 'GET', path, alice);
    expect(live).toMatchObject({ status: 200, body: { contacts: [expect.objectContaining({ id: carol.id })] } });

    // C stops answering on pub/sub (as a frozen or killed process would) while its lease is still
    // unexpired in Postgres: B forwards, hears nothing, and says the login is not running.
    await c.bridge.provisioning.relay.stop();
    expect(await b.bridge.pool.leaseHolderToken(other.id)).toBe(c.bridge.workerToken);
    const silent = await call(b, 'GET', path, alice);
    expect(silent).toMatchObject({ status: 503, body: notRunning });
    expect(silent.ms).toBeLessThan(PROMPT_MS);
    const dm = await call(a, 'POST', `/create_dm/${friend.id}?login_id=${other.id}`, alice);
    expect(dm).toMatchObject({ status: 503, body: notRunning });
    expect(dm.ms).toBeLessThan(PROMPT_MS);

    // C stops for good (its leases released): A or B takes the login over and answers again.
    await c.stop();
    const back = await eventually(async () => {
      const res = await call(b, 'GET', path, alice);
      return res.status === 200 ? res : undefined;
    }, 200);
    expect(back.body).toEqual(live.body);
    expect([a.bridge.workerToken, b.bridge.workerToken]).toContain(await b.bridge.pool.leaseHolderToken(other.id));
  });
});
