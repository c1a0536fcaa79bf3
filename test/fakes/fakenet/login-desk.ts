import { randomBytes, randomInt } from 'node:crypto';

/**
 * The fake network's sign-in server: SMS-style codes for the phone flow and QR codes that a
 * logged-in device "scans". Both end by issuing a session token (see FakeNetwork.createSession).
 */
export interface SignedIn {
  userId: string;
  sessionToken: string;
}

export interface QrTicket {
  readonly data: string;
  /** Resolves when a test scans this code (never, if it expires first). */
  readonly scanned: Promise<SignedIn>;
  /** Set synchronously by the scan (a waiter whose refresh timer fired in the same turn checks it). */
  result?: SignedIn;
}

interface QrState {
  ticket: QrTicket;
  resolve: (s: SignedIn) => void;
}

export class LoginDesk {
  private codes = new Map<string, string>();
  private qrCodes = new Map<string, QrState>();
  private lastQrData: string | undefined;

  constructor(
    /** Finds the account of a phone number, registering one if new (as Telegram signs up). */
    private accountFor: (phone: string) => string,
    private createSession: (userId: string) => string,
  ) {}

  /** "Sends" a code to the phone; tests read it with lastCode(). */
  sendCode(phone: string): void {
    this.codes.set(phone, String(randomInt(10_000, 100_000)));
  }

  lastCode(phone: string): string | undefined {
    return this.codes.get(phone);
  }

  /** Undefined when the code is wrong or none was sent. A used code is spent. */
  signIn(phone: string, code: string): SignedIn | undefined {
    if (this.codes.get(phone) !== code.trim()) return undefined;
    this.codes.delete(phone);
    const userId = this.accountFor(phone);
    return { userId, sessionToken: this.createSession(userId) };
  }

  issueQr(): QrTicket {
    const data = `fakenet://qr/${randomBytes(12).toString('base64url')}`;
    let resolve!: (s: SignedIn) => void;
    const scanned = new Promise<SignedIn>((r) => (resolve = r));
    const ticket: QrTicket = { data, scanned };
    this.qrCodes.set(data, { ticket, resolve });
    this.lastQrData = data;
    return ticket;
  }

  /** A refreshed or cancelled QR code can no longer be scanned. */
  expireQr(data: string): void {
    this.qrCodes.delete(data);
  }

  /** The newest QR code shown by any login process (for tests that drive the API from outside). */
  lastQr(): string | undefined {
    return this.lastQrData !== undefined && this.qrCodes.has(this.lastQrData) ? this.lastQrData : undefined;
  }

  /** A logged-in phone scans the code. False when the code is unknown or expired. */
  scanQr(data: string, userId: string): boolean {
    const state = this.qrCodes.get(data);
    if (!state) return false;
    this.qrCodes.delete(data);
    state.ticket.result = { userId, sessionToken: this.createSession(userId) };
    state.resolve(state.ticket.result);
    return true;
  }
}
