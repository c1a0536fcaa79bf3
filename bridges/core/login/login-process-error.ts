/**
 * Why the login-process registry refused a call. Transport-neutral on purpose: the provisioning
 * API maps each kind to a Matrix-style error and status, a bot command could map it to a notice.
 */
export type LoginProcessErrorKind =
  /** The connector offers no flow with this id. */
  | 'unknown_flow'
  /** No such process for this user (never started, or started by someone else). */
  | 'not_found'
  /** The process sat idle past its timeout and was cancelled. */
  | 'expired'
  /** The process was cancelled, failed or already completed. */
  | 'ended'
  /** The submitted step id or type is not the current step's (a stale or out-of-order client). */
  | 'wrong_step'
  /** Another submission for this process is still running. */
  | 'busy'
  /** The user already has the maximum number of processes running. */
  | 'too_many';

export class LoginProcessError extends Error {
  constructor(
    readonly kind: LoginProcessErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'LoginProcessError';
  }
}
