import type { LoginId } from './ids.js';

/**
 * The login state machine (bridgev2 LoginProcess). The provisioning API drives it:
 * start() -> a step; each step is answered by submitUserInput() (user_input) or wait()
 * (display_and_wait) until a `complete` step arrives. The core keeps the process in memory with
 * an expiry and rejects steps out of order.
 */
export interface LoginFlow {
  id: string;
  name: string;
  description: string;
}

export interface LoginInputField {
  type: 'phone_number' | 'email' | 'username' | 'password' | '2fa_code' | 'token' | 'url' | 'domain';
  id: string;
  name: string;
  description?: string;
  /** A regex the client can check before submitting. */
  pattern?: string;
}

interface StepBase {
  /** Stable id of this kind of step, e.g. `fi.mau.telegram.phone`; the client echoes it back. */
  stepId: string;
  instructions: string;
}

export type LoginStep =
  | (StepBase & { type: 'user_input'; fields: LoginInputField[] })
  | (StepBase & { type: 'display_and_wait'; display: { type: 'qr' | 'emoji' | 'code'; data: string } })
  | (StepBase & { type: 'complete'; complete: CompletedLogin });

/** What a finished login hands the core to persist. */
export interface CompletedLogin {
  loginId: LoginId;
  /** Shown to the user (phone number, name). */
  remoteName: string;
  /** Connector-owned, non-secret data stored as JSON with the login. */
  metadata: Record<string, unknown>;
  /** Credentials and keys: stored only through the crypto store (encrypted), never in metadata. */
  secrets: Record<string, Uint8Array>;
}

export interface LoginProcess {
  start(): Promise<LoginStep>;
  /** For `user_input` steps. Rejects with a LoginError for wrong input (the step may be retried). */
  submitUserInput?(input: Record<string, string>): Promise<LoginStep>;
  /** For `display_and_wait` steps: resolves with the next step (a refreshed QR, or complete). */
  wait?(signal: AbortSignal): Promise<LoginStep>;
  cancel(): void;
}

/** A user-facing login failure (wrong code, expired QR). `code` is stable, e.g. `fi.mau.tg.invalid_code`. */
export class LoginError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** Whether the same step may be submitted again. */
    readonly retryable = true,
  ) {
    super(message);
  }
}
