import { describe, expect, it } from 'vitest';
import { LoginError, type LoginStep } from '../../../bridges/core/network/login-process.js';
import { FakeNetwork, FakenetConnector } from '../../fakes/fakenet/index.js';

function completed(step: LoginStep) {
  if (step.type !== 'complete') throw new Error(`expected complete, got ${step.type}`);
  return step.complete;
}

describe('fakenet login flows', () => {
  it('phone: a wrong code is a retryable LoginError, the right one completes with the token in secrets only', async () => {
    const net = new FakeNetwork();
    const bob = net.addUser({ name: 'Bob', phone: '+15550002' });
    const login = new FakenetConnector(net).createLogin('@bob:test', 'phone');

    const first = await login.start();
    expect(first).toMatchObject({ type: 'user_input', fields: [{ type: 'phone_number', id: 'phone_number' }] });
    const second = await login.submitUserInput!({ phone_number: '+1 555 0002' });
    expect(second).toMatchObject({ type: 'user_input', fields: [{ type: '2fa_code', id: 'code' }] });

    const code = net.lastCode('+15550002')!;
    const wrong = code === '12345' ? '54321' : '12345';
    const err = await login.submitUserInput!({ code: wrong }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LoginError);
    expect(err).toMatchObject({ code: 'fakenet.invalid_code', retryable: true });

    const done = completed(await login.submitUserInput!({ code }));
    expect(done.loginId).toBe(bob.id);
    const token = new TextDecoder().decode(done.secrets.session);
    expect(net.sessionsOf(bob.id)).toEqual([token]);
    expect(JSON.stringify(done.metadata)).not.toContain(token);
  });

  it('phone: an unknown number signs up a new account', async () => {
    const net = new FakeNetwork();
    const login = new FakenetConnector(net).createLogin('@carol:test', 'phone');
    await login.start();
    await login.submitUserInput!({ phone_number: '+15559999' });
    const done = completed(await login.submitUserInput!({ code: net.lastCode('+15559999')! }));
    expect(net.userByPhone('+15559999')?.id).toBe(done.loginId);
  });

  it('qr: completes once the code is scanned by a logged-in phone', async () => {
    const net = new FakeNetwork();
    const bob = net.addUser({ name: 'Bob' });
    const login = new FakenetConnector(net).createLogin('@bob:test', 'qr');
    const step = await login.start();
    if (step.type !== 'display_and_wait') throw new Error('expected a QR step');
    expect(step.display.type).toBe('qr');
    expect(net.lastQr()).toBe(step.display.data);

    const waiting = login.wait!(new AbortController().signal);
    expect(net.scanQr(step.display.data, bob.id)).toBe(true);
    const done = completed(await waiting);
    expect(done.loginId).toBe(bob.id);
    expect(net.sessionsOf(bob.id)).toEqual([new TextDecoder().decode(done.secrets.session)]);
  });

  it('qr: wait() refreshes the code; the old one no longer scans, the new one does', async () => {
    const net = new FakeNetwork();
    const bob = net.addUser({ name: 'Bob' });
    const login = new FakenetConnector(net, { qrRefreshMs: 5 }).createLogin('@bob:test', 'qr');
    const first = await login.start();
    const second = await login.wait!(new AbortController().signal);
    if (first.type !== 'display_and_wait' || second.type !== 'display_and_wait') throw new Error('expected QR steps');
    expect(second.display.data).not.toBe(first.display.data);
    expect(net.scanQr(first.display.data, bob.id)).toBe(false);
    expect(net.scanQr(second.display.data, bob.id)).toBe(true);
    expect(completed(await login.wait!(new AbortController().signal)).loginId).toBe(bob.id);
  });

  it('qr: cancel expires the code, an aborted wait rejects, unknown flows are refused', async () => {
    const net = new FakeNetwork();
    const bob = net.addUser({ name: 'Bob' });
    const connector = new FakenetConnector(net);
    const login = connector.createLogin('@bob:test', 'qr');
    const step = await login.start();
    if (step.type !== 'display_and_wait') throw new Error('expected a QR step');
    const ac = new AbortController();
    const waiting = login.wait!(ac.signal);
    ac.abort();
    await expect(waiting).rejects.toMatchObject({ code: 'fakenet.aborted' });
    login.cancel();
    expect(net.scanQr(step.display.data, bob.id)).toBe(false);
    expect(() => connector.createLogin('@bob:test', 'carrier-pigeon')).toThrow(LoginError);
    expect(connector.loginFlows().map((f) => f.id)).toEqual(['phone', 'qr']);
  });
});
