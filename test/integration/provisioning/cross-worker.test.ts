import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { workerOfProcess } from '../../../bridges/core/login/index.js';
import type { FakeNetwork } from '../../fakes/fakenet/index.js';
import { eventually } from '../../helpers/bridge.js';
import { makeUser, type TestUser } from '../../helpers/platform.js';
import { call, startCluster, type BridgeCluster, type Worker } from './bridge-workers.js';

/**
 * Login processes across the workers of one bridge, as behind a plain load balancer: two (or
 * three) Bridge instances of the same bridge id on one Postgres schema, each with a Redis runtime
 * of its own on a shared prefix (so they share pub/sub, as processes of a cluster do) and its own
 * provisioning listener, called over real HTTP. A process started on one worker is stepped,
 * polled and cancelled through another, which forwards to the owner over pub/sub.
 */
/** Well past the relay's 2 s acknowledgement timeout, far below a hang. */
const PROMPT_MS = 5_000;

let cluster: BridgeCluster;
let net: FakeNetwork;
let a: Worker;
let b: Worker;
let alice: TestUser;
let bob: TestUser;

/** A worker whose QR codes refresh every `qrRefreshMs`. */
const startWorker = (qrRefreshMs: number) => cluster.startWorker({ qrRefreshMs });

const notFound = { errcode: 'M_NOT_FOUND', error: 'Login process not found' };

beforeAll(async () => {
  cluster = await startCluster('xw');
  net = cluster.net;
  a = await startWorker(1_000);
  b = await startWorker(60_000);
  alice = await makeUser(cluster.p, 'alice');
  bob = await makeUser(cluster.p, 'bob');
});

afterAll(async () => {
  await cluster?.close();
});

describe('login processes across bridge workers', () => {
  it('completes a phone login started on A with steps sent to B, visible in whoami on both', async () => {
    const me = net.addUser({ name: 'Alice Phone', phone: '+15550101' });
    const start = await call(a, 'POST', '/login/start/phone', alice);
    expect(start.status).toBe(200);
    const id = start.body.login_id as string;
    // Opaque to the client (one base64url word), but it names A.
    expect(id).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    expect(workerOfProcess(id)).toBe(a.bridge.provisioning.processes.workerToken);
    expect(a.bridge.provisioning.processes.countFor(alice.userId)).toBe(1);
    expect(b.bridge.provisioning.processes.countFor(alice.userId)).toBe(0);

    const codeStep = await call(b, 'POST', `/login/step/${id}/fakenet.phone/user_input`, alice, { phone_number: me.phone });
    expect(codeStep.status).toBe(200);
    expect(codeStep.body).toMatchObject({ login_id: id, type: 'user_input', step_id: 'fakenet.code' });

    // The owner's errors come back as they are: a retryable connector error keeps the process.
    const real = net.lastCode(me.phone!)!;
    const wrong = await call(b, 'POST', `/login/step/${id}/fakenet.code/user_input`, alice, { code: real === '11111' ? '22222' : '11111' });
    expect(wrong.status).toBe(400);
    expect(wrong.body).toEqual({ errcode: 'fakenet.invalid_code', error: expect.any(String), retryable: true });
    const stale = await call(b, 'POST', `/login/step/${id}/fakenet.phone/user_input`, alice, { phone_number: me.phone });
    expect(stale.status).toBe(400);
    expect(stale.body).toMatchObject({ errcode: 'M_BAD_STATE' });

    const done = await call(b, 'POST', `/login/step/${id}/fakenet.code/user_input`, alice, { code: real });
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ login_id: id, type: 'complete', complete: { user_login_id: me.id } });
    expect(JSON.stringify(done.body)).not.toContain('secret');

    for (const w of [a, b]) {
      const whoami = await call(w, 'GET', '/whoami', alice);
      expect(whoami.status).toBe(200);
      expect(whoami.body.logins).toEqual([expect.objectContaining({ id: me.id, name: 'Alice Phone' })]);
    }
    // The ended process is explained by its owner whichever worker is asked.
    const again = await call(b, 'POST', `/login/step/${id}/fakenet.code/user_input`, alice, { code: real });
    expect(again.status).toBe(404);
    expect(again.body).toEqual({ errcode: 'M_NOT_FOUND', error: 'Login process already completed; start a new login' });
  });

  it('polls a QR login started on A through B: a refreshed code, then completion', async () => {
    const me = net.addUser({ name: 'Alice QR' });
    const start = await call(a, 'POST', '/login/start/qr', alice);
    expect(start.status).toBe(200);
    const id = start.body.login_id as string;
    const first = start.body.display_and_wait.data as string;

    // A refreshes its code every second: the forwarded wait blocks until then.
    const refreshed = await call(b, 'POST', `/login/step/${id}/fakenet.qr/display_and_wait`, alice);
    expect(refreshed.status).toBe(200);
    expect(refreshed.body).toMatchObject({
      login_id: id,
      type: 'display_and_wait',
      step_id: 'fakenet.qr',
      display_and_wait: { type: 'qr' },
    });
    const second = refreshed.body.display_and_wait.data as string;
    expect(second).not.toBe(first);
    expect(refreshed.ms).toBeGreaterThan(500);

    expect(net.scanQr(second, me.id)).toBe(true);
    const done = await call(b, 'POST', `/login/step/${id}/fakenet.qr/display_and_wait`, alice);
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ login_id: id, type: 'complete', complete: { user_login_id: me.id } });
    for (const w of [a, b]) {
      const whoami = await call(w, 'GET', '/whoami', alice);
      expect(whoami.body.logins.map((l: { id: string }) => l.id)).toContain(me.id);
    }
  });

  it('shares one wait of the owner between waits arriving on both workers', async () => {
    const me = net.addUser({ name: 'Alice QR Again' });
    // B owns this one (its codes do not refresh within the test), A forwards.
    const start = await call(b, 'POST', '/login/start/qr', alice);
    const id = start.body.login_id as string;
    const waits = vi.spyOn(b.bridge.provisioning.processes, 'wait');
    const viaA = call(a, 'POST', `/login/step/${id}/fakenet.qr/display_and_wait`, alice);
    const viaB = call(b, 'POST', `/login/step/${id}/fakenet.qr/display_and_wait`, alice);
    // Both requests are waiting on B before the code is scanned (a scan first would complete the
    // first and leave the second a completed process).
    await eventually(() => waits.mock.calls.length === 2);
    waits.mockRestore();
    expect(net.scanQr(start.body.display_and_wait.data, me.id)).toBe(true);
    const [doneA, doneB] = await Promise.all([viaA, viaB]);
    expect(doneA.status).toBe(200);
    expect(doneA.body).toMatchObject({ type: 'complete', complete: { user_login_id: me.id } });
    expect(doneB.body).toEqual(doneA.body);
  });

  it('cancels a process of A through B, ending a wait pending on A', async () => {
    const start = await call(a, 'POST', '/login/start/qr', alice);
    const id = start.body.login_id as string;
    const pending = call(a, 'POST', `/login/step/${id}/fakenet.qr/display_and_wait`, alice);
    const cancelled = await call(b, 'POST', `/login/cancel/${id}`, alice);
    expect(cancelled).toMatchObject({ status: 200, body: {} });
    expect((await pending).body).toMatchObject({ errcode: 'M_NOT_FOUND' });
    expect((await pending).status).toBe(404);
    expect(a.bridge.provisioning.processes.countFor(alice.userId)).toBe(0);
    const after = await call(b, 'POST', `/login/cancel/${id}`, alice);
    expect(after).toMatchObject({
      status: 404,
      body: { errcode: 'M_NOT_FOUND', error: 'Login process already cancelled; start a new login' },
    });
  });

  it('does not let a user step or cancel another user’s process through the other worker', async () => {
    const me = net.addUser({ name: 'Alice Again', phone: '+15550103' });
    // With their own access tokens: only the resolved user id travels to the owner, which checks it.
    const start = await call(a, 'POST', '/login/start/phone', alice);
    const id = start.body.login_id as string;
    const step = await call(b, 'POST', `/login/step/${id}/fakenet.phone/user_input`, bob, { phone_number: me.phone });
    expect(step).toMatchObject({ status: 404, body: notFound });
    const cancel = await call(b, 'POST', `/login/cancel/${id}`, bob);
    expect(cancel).toMatchObject({ status: 404, body: notFound });
    // The shared secret acting for Bob is no different.
    const admin = await call(b, 'POST', `/login/cancel/${id}`, bob.userId);
    expect(admin).toMatchObject({ status: 404, body: notFound });
    expect(net.lastCode(me.phone!)).toBeUndefined();
    // Alice's process is untouched.
    const mine = await call(b, 'POST', `/login/step/${id}/fakenet.phone/user_input`, alice, { phone_number: me.phone });
    expect(mine.status).toBe(200);
    expect(mine.body.step_id).toBe('fakenet.code');
    expect((await call(b, 'POST', `/login/cancel/${id}`, alice)).status).toBe(200);
  });

  it('answers the unknown-process error promptly once the owner is stopped, also for a wait in flight', async () => {
    const c = await startWorker(60_000);
    try {
      const phone = await call(c, 'POST', '/login/start/phone', alice);
      const qr = await call(c, 'POST', '/login/start/qr', alice);
      expect([phone.status, qr.status]).toEqual([200, 200]);
      const waits = vi.spyOn(c.bridge.provisioning.processes, 'wait');
      const waiting = call(b, 'POST', `/login/step/${qr.body.login_id}/fakenet.qr/display_and_wait`, alice);
      // The forwarded wait is running on C when C stops.
      await eventually(() => waits.mock.calls.length === 1);
      const stopping = performance.now();
      await c.stop();
      const ended = await waiting;
      expect(ended.status).toBe(404);
      expect(ended.body).toMatchObject({ errcode: 'M_NOT_FOUND' });
      expect(performance.now() - stopping).toBeLessThan(PROMPT_MS);

      const step = await call(b, 'POST', `/login/step/${phone.body.login_id}/fakenet.phone/user_input`, alice, {
        phone_number: '+15550104',
      });
      expect(step).toMatchObject({ status: 404, body: notFound });
      expect(step.ms).toBeLessThan(PROMPT_MS);
      const cancel = await call(a, 'POST', `/login/cancel/${phone.body.login_id}`, alice);
      expect(cancel).toMatchObject({ status: 404, body: notFound });
      expect(cancel.ms).toBeLessThan(PROMPT_MS);
    } finally {
      await c.stop();
    }
  });

  it('answers 404, never 500, for process ids that are malformed or name no live worker', async () => {
    const ownToken = b.bridge.provisioning.processes.workerToken;
    const ids = [
      'x',
      'not-a-process',
      'a.b.c',
      '%F0%9F%98%80',
      '%00',
      'A'.repeat(36), // well-formed, names a worker that does not exist
      ownToken + 'B'.repeat(24), // well-formed, B's own, never started
      'A'.repeat(35) + '=',
    ];
    for (const id of ids) {
      for (const w of [a, b]) {
        // At once: the id naming no live worker waits out the relay's acknowledgement each time.
        const answers = await Promise.all([
          call(w, 'POST', `/login/step/${id}/fakenet.phone/user_input`, alice, { phone_number: '+15550105' }),
          call(w, 'POST', `/login/step/${id}/fakenet.qr/display_and_wait`, alice),
          call(w, 'POST', `/login/cancel/${id}`, alice),
        ]);
        for (const answer of answers) {
          expect(answer, id).toMatchObject({ status: 404, body: notFound });
          expect(answer.ms).toBeLessThan(PROMPT_MS);
        }
      }
    }
    // Longer than a route parameter may be (Fastify's maxParamLength, a server option the plugin
    // cannot reach): the router refuses it before any route runs, still not with a 500.
    const long = await call(b, 'POST', `/login/cancel/${'A'.repeat(2_000)}`, alice);
    expect(long.status).toBe(414);
  });
});
