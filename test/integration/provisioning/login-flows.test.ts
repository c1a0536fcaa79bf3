import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { Db } from '../../../homeserver/storage/db.js';
import { loginId } from '../../../bridges/core/network/ids.js';
import { NetworkError } from '../../../bridges/core/network/network-client.js';
import type { NetworkConnector } from '../../../bridges/core/network/network-connector.js';
import { UserLoginStore } from '../../../bridges/core/storage/user-logins.js';
import { phoneLogin, provisioningDb, provisioningFixture, type FixtureOptions } from './fixture.js';

let db: Db & { schema: string };
beforeAll(async () => {
  db = await provisioningDb();
});
afterAll(async () => {
  await db.close();
});

async function fixture(opts: FixtureOptions = {}) {
  const f = await provisioningFixture(db, opts);
  onTestFinished(() => f.close());
  return f;
}

const ALICE = '@alice:test';
const BOB = '@bob:test';

describe('phone flow', () => {
  it('runs start -> phone -> wrong code (400, retry) -> code -> complete, then lists the login', async () => {
    const f = await fixture();
    const me = f.net.addUser({ name: 'Alice Remote', phone: '+15550001' });
    const alice = f.admin(ALICE);

    const flows = await alice.get('/login/flows');
    expect(flows.status).toBe(200);
    expect(flows.body.flows.map((x: { id: string }) => x.id)).toEqual(['phone', 'qr']);

    const start = await alice.post('/login/start/phone');
    expect(start.status).toBe(200);
    expect(start.body).toMatchObject({
      type: 'user_input',
      step_id: 'fakenet.phone',
      user_input: { fields: [{ type: 'phone_number', id: 'phone_number', name: 'Phone number' }] },
    });
    const id = start.body.login_id as string;
    expect(id).toMatch(/^[A-Za-z0-9_-]{20,}$/);

    const badPhone = await alice.post(`/login/step/${id}/fakenet.phone/user_input`, { phone_number: 'not a phone' });
    expect(badPhone.status).toBe(400);
    expect(badPhone.body).toEqual({ errcode: 'fakenet.invalid_phone', error: 'That is not a phone number', retryable: true });

    const codeStep = await alice.post(`/login/step/${id}/fakenet.phone/user_input`, { phone_number: me.phone });
    expect(codeStep.status).toBe(200);
    expect(codeStep.body).toMatchObject({ login_id: id, type: 'user_input', step_id: 'fakenet.code' });

    const real = f.net.lastCode(me.phone)!;
    const wrong = real === '11111' ? '22222' : '11111';
    const bad = await alice.post(`/login/step/${id}/fakenet.code/user_input`, { code: wrong });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ errcode: 'fakenet.invalid_code', retryable: true });

    // The process is still on the code step: the same step may be submitted again.
    const done = await alice.post(`/login/step/${id}/fakenet.code/user_input`, { code: real });
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ login_id: id, type: 'complete', step_id: 'fakenet.complete' });
    const loginId = done.body.complete.user_login_id;
    expect(loginId).toBeTruthy();
    // Secrets never reach the client.
    expect(JSON.stringify(done.body)).not.toContain('secret');
    expect(f.ended).toContainEqual({ processId: id, reason: 'completed' });

    const logins = await alice.get('/logins');
    expect(logins).toEqual({ status: 200, body: { login_ids: [loginId] } });

    const whoami = await alice.get('/whoami');
    expect(whoami.status).toBe(200);
    expect(whoami.body).toMatchObject({
      network: { displayname: 'Fake network', network_id: 'fakenet' },
      login_flows: [{ id: 'phone' }, { id: 'qr' }],
      homeserver: 'test',
      bridge_bot: '@fakenetbot:test',
      command_prefix: '!fakenet',
      logins: [{ id: loginId, name: 'Alice Remote', state: { state_event: 'CONNECTED' }, state_event: 'CONNECTED' }],
    });
    const stored = await f.store.get(loginId);
    expect(stored).toMatchObject({ userMxid: ALICE, remoteName: 'Alice Remote', metadata: { phone: me.phone } });

    // The completed process is gone; its owner is told why.
    const again = await alice.post(`/login/step/${id}/fakenet.code/user_input`, { code: real });
    expect(again.status).toBe(404);
    expect(again.body).toEqual({ errcode: 'M_NOT_FOUND', error: 'Login process already completed; start a new login' });
  });

  it('refuses an unknown flow with 404 M_NOT_FOUND', async () => {
    const f = await fixture();
    const res = await f.admin(ALICE).post('/login/start/carrier-pigeon');
    expect(res).toEqual({ status: 404, body: { errcode: 'M_NOT_FOUND', error: 'Invalid login flow ID' } });
  });
});

describe('QR flow', () => {
  it('display_and_wait returns a refreshed code, then completes once the code is scanned', async () => {
    const f = await fixture({ qrRefreshMs: 20 });
    const me = f.net.addUser({ name: 'QR Person' });
    const alice = f.admin(ALICE);

    const start = await alice.post('/login/start/qr');
    expect(start.status).toBe(200);
    expect(start.body).toMatchObject({ type: 'display_and_wait', step_id: 'fakenet.qr', display_and_wait: { type: 'qr' } });
    const id = start.body.login_id;
    const first = start.body.display_and_wait.data;

    // Nobody scans: the wait ends with a fresh code, same step id.
    const refreshed = await alice.post(`/login/step/${id}/fakenet.qr/display_and_wait`);
    expect(refreshed.status).toBe(200);
    expect(refreshed.body).toMatchObject({ login_id: id, type: 'display_and_wait', step_id: 'fakenet.qr' });
    const second = refreshed.body.display_and_wait.data;
    expect(second).not.toBe(first);
    expect(f.net.scanQr(first, me.id)).toBe(false);

    expect(f.net.scanQr(second, me.id)).toBe(true);
    const done = await alice.post(`/login/step/${id}/fakenet.qr/display_and_wait`, {});
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ type: 'complete', complete: { user_login_id: expect.any(String) } });
    expect((await alice.get('/logins')).body.login_ids).toEqual([done.body.complete.user_login_id]);
  });

  it('display_and_wait blocks until the code is scanned', async () => {
    const f = await fixture({ qrRefreshMs: 60_000 });
    const me = f.net.addUser({ name: 'QR Person' });
    const alice = f.admin(ALICE);
    const start = await alice.post('/login/start/qr');
    const pending = alice.post(`/login/step/${start.body.login_id}/fakenet.qr/display_and_wait`);
    expect(f.net.scanQr(start.body.display_and_wait.data, me.id)).toBe(true);
    const done = await pending;
    expect(done.status).toBe(200);
    expect(done.body.type).toBe('complete');
  });

  it('shares one wait between concurrent display_and_wait calls and refuses a concurrent submission', async () => {
    const f = await fixture({ qrRefreshMs: 60_000 });
    const me = f.net.addUser({ name: 'QR Person' });
    const started = await f.processes.start(ALICE, 'qr');
    const a = f.processes.wait(ALICE, started.processId, 'fakenet.qr');
    const b = f.processes.wait(ALICE, started.processId, 'fakenet.qr');
    expect(b).toBe(a);
    expect(() => f.processes.submitUserInput(ALICE, started.processId, 'fakenet.qr', {})).toThrow(
      expect.objectContaining({ kind: 'busy' }),
    );
    if (started.step.type !== 'display_and_wait') throw new Error('expected a QR step');
    f.net.scanQr(started.step.display.data, me.id);
    const [ra, rb] = await Promise.all([a, b]);
    expect(ra.type).toBe('complete');
    expect(rb).toBe(ra);
    expect(await f.store.listForUser(ALICE)).toHaveLength(1);
  });
});

describe('cancel and expiry', () => {
  it('cancels a process: later steps and a second cancel get 404', async () => {
    const f = await fixture();
    const alice = f.admin(ALICE);
    const start = await alice.post('/login/start/qr');
    const id = start.body.login_id;
    const data = start.body.display_and_wait.data;

    expect(await alice.post(`/login/cancel/${id}`)).toEqual({ status: 200, body: {} });
    expect(f.ended).toContainEqual({ processId: id, reason: 'cancelled' });
    // The connector was told: its QR code no longer works.
    expect(f.net.scanQr(data, f.net.addUser({ name: 'x' }).id)).toBe(false);

    const step = await alice.post(`/login/step/${id}/fakenet.qr/display_and_wait`);
    expect(step).toEqual({ status: 404, body: { errcode: 'M_NOT_FOUND', error: 'Login process already cancelled; start a new login' } });
    expect((await alice.post(`/login/cancel/${id}`)).status).toBe(404);
  });

  it('ends a pending display_and_wait when the process is cancelled', async () => {
    const f = await fixture({ qrRefreshMs: 60_000 });
    const alice = f.admin(ALICE);
    const start = await alice.post('/login/start/qr');
    const id = start.body.login_id;
    const pending = alice.post(`/login/step/${id}/fakenet.qr/display_and_wait`);
    // Cancel only once the wait is registered, so the test does not depend on request timing.
    await waitForInFlight(() => f.processes.submitUserInput(ALICE, id, 'fakenet.qr', {}));
    expect((await alice.post(`/login/cancel/${id}`)).status).toBe(200);
    const res = await pending;
    expect(res.status).toBe(404);
    expect(res.body.errcode).toBe('M_NOT_FOUND');
  });

  it('expires an idle process: it is cancelled, removed and reported as expired', async () => {
    const f = await fixture({ idleTimeoutMs: 30 });
    const alice = f.admin(ALICE);
    const expired = f.nextEnd('expired');
    const start = await alice.post('/login/start/qr');
    const id = start.body.login_id;
    expect(await expired).toBe(id);
    expect(f.processes.size).toBe(0);
    expect(f.net.scanQr(start.body.display_and_wait.data, f.net.addUser({ name: 'x' }).id)).toBe(false);

    const step = await alice.post(`/login/step/${id}/fakenet.qr/display_and_wait`);
    expect(step).toEqual({ status: 404, body: { errcode: 'M_NOT_FOUND', error: 'Login process expired; start a new login' } });
    // Another user learns nothing about it.
    const other = await f.admin(BOB).post(`/login/step/${id}/fakenet.qr/display_and_wait`);
    expect(other.body.error).toBe('Login process not found');
  });

  it('expiry ends a display_and_wait that nobody answers', async () => {
    const f = await fixture({ idleTimeoutMs: 40, qrRefreshMs: 60_000 });
    const alice = f.admin(ALICE);
    const start = await alice.post('/login/start/qr');
    const res = await alice.post(`/login/step/${start.body.login_id}/fakenet.qr/display_and_wait`);
    expect(res).toEqual({ status: 404, body: { errcode: 'M_NOT_FOUND', error: 'Login process expired; start a new login' } });
  });
});

describe('steps out of order and bad input', () => {
  it('refuses a wrong step id or type with 400 M_BAD_STATE and keeps the process', async () => {
    const f = await fixture();
    const alice = f.admin(ALICE);
    const id = (await alice.post('/login/start/phone')).body.login_id;

    const wrongId = await alice.post(`/login/step/${id}/fakenet.code/user_input`, { code: '12345' });
    expect(wrongId).toEqual({ status: 400, body: { errcode: 'M_BAD_STATE', error: 'Step ID does not match (expected fakenet.phone)' } });
    const wrongType = await alice.post(`/login/step/${id}/fakenet.phone/display_and_wait`);
    expect(wrongType).toEqual({ status: 400, body: { errcode: 'M_BAD_STATE', error: 'Step type does not match (expected user_input)' } });
    const unknownType = await alice.post(`/login/step/${id}/fakenet.phone/cookies`, {});
    expect(unknownType.status).toBe(404);
    expect(unknownType.body.errcode).toBe('M_UNRECOGNIZED');

    const ok = await alice.post(`/login/step/${id}/fakenet.phone/user_input`, { phone_number: '+15550002' });
    expect(ok.status).toBe(200);
  });

  it('refuses bad bodies with 400, never 500', async () => {
    const f = await fixture();
    const alice = f.admin(ALICE);
    const id = (await alice.post('/login/start/phone')).body.login_id;
    const url = `/login/step/${id}/fakenet.phone/user_input`;

    expect((await alice.post(url, { phone_number: 15550002 })).body.errcode).toBe('M_BAD_JSON');
    expect((await alice.post(url, ['+15550002'])).body.errcode).toBe('M_BAD_JSON');
    expect((await alice.post(url)).body.errcode).toBe('M_BAD_JSON');
    const notJson = await alice.post(url, undefined, { rawBody: '{"phone_number":' });
    expect(notJson).toEqual({ status: 400, body: { errcode: 'M_NOT_JSON', error: 'Content not JSON.' } });
    expect((await alice.post(url, { phone_number: '+15550002' })).status).toBe(200);
  });

  it("hides another user's process (404) and leaves it working", async () => {
    const f = await fixture();
    const id = (await f.admin(ALICE).post('/login/start/phone')).body.login_id;
    const bob = f.admin(BOB);
    const notFound = { status: 404, body: { errcode: 'M_NOT_FOUND', error: 'Login process not found' } };
    expect(await bob.post(`/login/step/${id}/fakenet.phone/user_input`, { phone_number: '+15550003' })).toEqual(notFound);
    expect(await bob.post(`/login/cancel/${id}`)).toEqual(notFound);
    expect(await bob.post(`/login/step/unknown-process/fakenet.phone/user_input`, { phone_number: '+15550003' })).toEqual(notFound);
    expect((await f.admin(ALICE).post(`/login/step/${id}/fakenet.phone/user_input`, { phone_number: '+15550003' })).status).toBe(200);
  });
});

describe('limits and failures', () => {
  it('limits concurrent processes per user (429) and frees a slot on cancel', async () => {
    const f = await fixture({ maxPerUser: 2 });
    const alice = f.admin(ALICE);
    const first = await alice.post('/login/start/phone');
    await alice.post('/login/start/qr');
    const third = await alice.post('/login/start/phone');
    expect(third.status).toBe(429);
    expect(third.body.errcode).toBe('M_LIMIT_EXCEEDED');
    expect((await f.admin(BOB).post('/login/start/phone')).status).toBe(200);
    await alice.post(`/login/cancel/${first.body.login_id}`);
    expect((await alice.post('/login/start/phone')).status).toBe(200);
  });

  it('limits processes across all users too', async () => {
    const f = await fixture({ maxTotal: 2 });
    expect((await f.admin(ALICE).post('/login/start/phone')).status).toBe(200);
    expect((await f.admin(BOB).post('/login/start/phone')).status).toBe(200);
    const third = await f.admin('@carol:test').post('/login/start/phone');
    expect(third.status).toBe(429);
    expect(third.body.error).toContain('on this bridge');
  });

  it('refuses new processes past maxLoginsPerUser with FI.MAU.BRIDGE.TOO_MANY_LOGINS', async () => {
    const f = await fixture({ deps: { maxLoginsPerUser: 1 } });
    f.net.addUser({ name: 'A', phone: '+15550010' });
    const alice = f.admin(ALICE);
    await phoneLogin(f, alice, '+15550010');
    const res = await alice.post('/login/start/phone');
    expect(res.status).toBe(400);
    expect(res.body.errcode).toBe('FI.MAU.BRIDGE.TOO_MANY_LOGINS');
  });

  it('answers a connector crash with a sanitised 500 and drops the process', async () => {
    let cancelled = 0;
    const f = await fixture({
      connector: {
        networkId: 'broken',
        displayName: 'Broken',
        portalsPerLogin: 'dm-only',
        loginFlows: () => [{ id: 'token', name: 'Token', description: 'Paste a token' }],
        createLogin: () => ({
          start: async () => ({
            type: 'user_input',
            stepId: 'broken.token',
            instructions: 'Token',
            fields: [{ type: 'token', id: 'token', name: 'Token' }],
          }),
          submitUserInput: async () => {
            throw new Error('relation "secret_table" does not exist at 10.0.0.5');
          },
          cancel: () => {
            cancelled++;
          },
        }),
        loadLogin: () => {
          throw new Error('not used');
        },
      },
    });
    const alice = f.admin(ALICE);
    const id = (await alice.post('/login/start/token')).body.login_id;
    const res = await alice.post(`/login/step/${id}/broken.token/user_input`, { token: 'x' });
    expect(res).toEqual({ status: 500, body: { errcode: 'M_UNKNOWN', error: 'Internal server error' } });
    expect(cancelled).toBe(1);
    expect(f.ended).toContainEqual({ processId: id, reason: 'failed' });
    expect((await alice.post(`/login/step/${id}/broken.token/user_input`, { token: 'x' })).status).toBe(404);
  });

  it('fails the process when persisting the login fails, and lets the connector go', async () => {
    const f = await fixture({
      onComplete: async () => {
        throw new Error('crypto store unavailable');
      },
    });
    const me = f.net.addUser({ name: 'A', phone: '+15550020' });
    const alice = f.admin(ALICE);
    const id = (await alice.post('/login/start/phone')).body.login_id;
    await alice.post(`/login/step/${id}/fakenet.phone/user_input`, { phone_number: me.phone });
    const res = await alice.post(`/login/step/${id}/fakenet.code/user_input`, { code: f.net.lastCode(me.phone) });
    expect(res).toEqual({ status: 500, body: { errcode: 'M_UNKNOWN', error: 'Internal server error' } });
    expect(await f.store.listForUser(ALICE)).toEqual([]);
    expect(f.processes.size).toBe(0);
  });
});

describe('connectors that misbehave or fail on the network', () => {
  /** A connector whose wait() never settles (ignores its signal) and whose input step fails once on the network. */
  function stubborn() {
    let attempts = 0;
    const connector: NetworkConnector = {
      networkId: 'stubborn',
      displayName: 'Stubborn',
      portalsPerLogin: 'dm-only',
      loginFlows: () => [
        { id: 'qr', name: 'QR', description: 'Never scanned' },
        { id: 'token', name: 'Token', description: 'Flaky network' },
      ],
      createLogin: (_user, flow) => ({
        start: async () =>
          flow === 'qr'
            ? { type: 'display_and_wait', stepId: 's.qr', instructions: 'Scan', display: { type: 'qr', data: 'x' } }
            : { type: 'user_input', stepId: 's.token', instructions: 'Token', fields: [{ type: 'token', id: 'token', name: 'Token' }] },
        wait: () => new Promise<never>(() => {}),
        submitUserInput: async () => {
          if (++attempts === 1) throw new NetworkError('s-timeout', 'timed out talking to the server', true);
          return {
            type: 'complete',
            stepId: 's.done',
            instructions: 'Done',
            complete: { loginId: loginId('s-1'), remoteName: 'S', metadata: {}, secrets: {} },
          };
        },
        cancel: () => {},
      }),
      loadLogin: () => {
        throw new Error('not used');
      },
    };
    return connector;
  }

  it('ends a pending display_and_wait on cancel even if the connector ignores the signal', async () => {
    const f = await fixture({ connector: stubborn() });
    const alice = f.admin(ALICE);
    const id = (await alice.post('/login/start/qr')).body.login_id;
    const pending = alice.post(`/login/step/${id}/s.qr/display_and_wait`);
    await waitForInFlight(() => f.processes.submitUserInput(ALICE, id, 's.qr', {}));
    await alice.post(`/login/cancel/${id}`);
    expect((await pending).status).toBe(404);
  });

  it('answers a retryable network failure with 502 and keeps the step', async () => {
    const records = new UserLoginStore(db, 'stubborn');
    const f = await fixture({
      connector: stubborn(),
      onComplete: async (userMxid, done) => records.upsert({ loginId: done.loginId, userMxid, remoteName: done.remoteName, metadata: {} }),
    });
    const alice = f.admin(ALICE);
    const id = (await alice.post('/login/start/token')).body.login_id;
    const failed = await alice.post(`/login/step/${id}/s.token/user_input`, { token: 't' });
    expect(failed).toEqual({
      status: 502,
      body: { errcode: 'IO.CAUSEWAY_NETWORK_ERROR', error: 'The network failed the request (s-timeout)', retryable: true },
    });
    const done = await alice.post(`/login/step/${id}/s.token/user_input`, { token: 't' });
    expect(done.body).toMatchObject({ type: 'complete', complete: { user_login_id: 's-1' } });
  });
});

/** Retries `probe` until it reports the process busy (a submission is in flight). */
async function waitForInFlight(probe: () => unknown): Promise<void> {
  for (;;) {
    try {
      const p = probe();
      if (p instanceof Promise) p.catch(() => {});
    } catch (err) {
      if ((err as { kind?: string }).kind === 'busy') return;
    }
    await new Promise((r) => setImmediate(r));
  }
}
