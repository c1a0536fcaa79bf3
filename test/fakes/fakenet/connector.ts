/**
 * FakenetConnector: the NetworkConnector of the fake network, for bridge-core tests and the
 * sessions benchmark. Usage:
 *
 *   const net = new FakeNetwork();
 *   const connector = new FakenetConnector(net, { qrRefreshMs: 60_000 });
 *   // phone flow: start() -> submit {phone_number} -> submit {code: net.lastCode(phone)} -> complete
 *   // qr flow:    start() -> display_and_wait {data}; net.scanQr(data, userId); wait() -> complete
 *   const client = connector.loadLogin(ctx);   // ctx.keys must hold the session (see saveLoginSecrets)
 *   await client.connect(ctx.signal);
 *
 * networkId 'fakenet', portalsPerLogin 'dm-only' (DMs are per login, groups shared).
 */
import { LoginError, type LoginFlow, type LoginProcess } from '../../../bridges/core/network/login-process.js';
import type { LoginContext } from '../../../bridges/core/network/login-context.js';
import type { NetworkConnector } from '../../../bridges/core/network/network-connector.js';
import { FakenetClient } from './client.js';
import type { FakeNetwork } from './fake-network.js';
import { PhoneLogin } from './login-phone.js';
import { QrLogin } from './login-qr.js';

export interface FakenetConnectorOptions {
  /** How long a QR code stays valid before wait() returns a fresh one. Default 30 s. */
  qrRefreshMs?: number;
}

const FLOWS: LoginFlow[] = [
  { id: 'phone', name: 'Phone number', description: 'Log in with your phone number and the code sent to it' },
  { id: 'qr', name: 'QR code', description: 'Scan a QR code with the fake network app on your phone' },
];

export class FakenetConnector implements NetworkConnector {
  readonly networkId = 'fakenet';
  readonly displayName = 'Fake network';
  readonly portalsPerLogin = 'dm-only' as const;

  constructor(
    readonly network: FakeNetwork,
    private readonly opts: FakenetConnectorOptions = {},
  ) {}

  loginFlows(): LoginFlow[] {
    return FLOWS.map((f) => ({ ...f }));
  }

  createLogin(_userMxid: string, flowId: string): LoginProcess {
    if (flowId === 'phone') return new PhoneLogin(this.network);
    if (flowId === 'qr') return new QrLogin(this.network, this.opts.qrRefreshMs ?? 30_000);
    throw new LoginError('fakenet.unknown_flow', `Unknown login flow ${flowId}`, false);
  }

  loadLogin(ctx: LoginContext): FakenetClient {
    return new FakenetClient(this.network, ctx);
  }
}
