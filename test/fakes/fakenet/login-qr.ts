import { LoginError, type LoginProcess, type LoginStep } from '../../../bridges/core/network/login-process.js';
import type { FakeNetwork } from './fake-network.js';
import { completeStep } from './login-complete.js';
import type { QrTicket, SignedIn } from './login-desk.js';

/**
 * The `qr` flow (WhatsApp-style): shows a QR code; each wait() resolves with a fresh code after
 * `refreshMs` (the old one stops working) or with `complete` once a test calls
 * FakeNetwork.scanQr(data, userId).
 */
export class QrLogin implements LoginProcess {
  private ticket: QrTicket | undefined;
  private done = false;

  constructor(
    private readonly net: FakeNetwork,
    private readonly refreshMs: number,
  ) {}

  async start(): Promise<LoginStep> {
    return this.show();
  }

  async wait(signal: AbortSignal): Promise<LoginStep> {
    const ticket = this.ticket;
    if (this.done || !ticket) throw new LoginError('fakenet.login_finished', 'This login is no longer active', false);
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    try {
      const outcome = await Promise.race<SignedIn | 'refresh' | 'aborted'>([
        ticket.scanned,
        new Promise((r) => (timer = setTimeout(() => r('refresh'), this.refreshMs))),
        new Promise((r) => {
          onAbort = () => r('aborted');
          if (signal.aborted) onAbort();
          else signal.addEventListener('abort', onAbort, { once: true });
        }),
      ]);
      if (outcome === 'aborted') throw new LoginError('fakenet.aborted', 'Stopped waiting for the QR code', true);
      // A scan in the same turn as the timer still counts: the user did scan in time.
      const signedIn = outcome === 'refresh' ? ticket.result : outcome;
      if (!signedIn) return this.show();
      this.done = true;
      return completeStep(this.net, signedIn);
    } finally {
      clearTimeout(timer);
      if (onAbort) signal.removeEventListener('abort', onAbort);
    }
  }

  cancel(): void {
    this.done = true;
    if (this.ticket) this.net.desk.expireQr(this.ticket.data);
  }

  private show(): LoginStep {
    if (this.ticket) this.net.desk.expireQr(this.ticket.data);
    this.ticket = this.net.desk.issueQr();
    return {
      type: 'display_and_wait',
      stepId: 'fakenet.qr',
      instructions: 'Scan the QR code with the fake network app',
      display: { type: 'qr', data: this.ticket.data },
    };
  }
}
