import { randomBytes } from 'node:crypto';

/**
 * Login process ids name the worker that holds the process, so any worker of a cluster can tell
 * where a step must go without a shared registry: `<worker token><random>`, both base64url.
 *
 * The worker token is a fixed-length prefix rather than a separated field so ids stay one opaque
 * base64url word to clients (mautrix clients treat `login_id` as a token). It is random per
 * worker and says nothing about the host; the random part (144 bits) keeps ids unguessable.
 */
const TOKEN_BYTES = 9;
const RANDOM_BYTES = 18;
/** base64url length of n bytes when n is a multiple of 3 (no padding). */
const TOKEN_LENGTH = (TOKEN_BYTES / 3) * 4;
const ID_LENGTH = TOKEN_LENGTH + (RANDOM_BYTES / 3) * 4;
const ID = new RegExp(`^[A-Za-z0-9_-]{${ID_LENGTH}}$`);
const TOKEN = new RegExp(`^[A-Za-z0-9_-]{${TOKEN_LENGTH}}$`);

/** A fresh worker token (one per LoginProcesses instance, i.e. per bridge per worker). */
export function newWorkerToken(): string {
  return randomBytes(TOKEN_BYTES).toString('base64url');
}

export function isWorkerToken(token: string): boolean {
  return TOKEN.test(token);
}

export function newProcessId(workerToken: string): string {
  if (!isWorkerToken(workerToken)) throw new Error('invalid worker token');
  return workerToken + randomBytes(RANDOM_BYTES).toString('base64url');
}

/** The worker token inside a process id, or undefined when the id cannot be one of ours. */
export function workerOfProcess(processId: string): string | undefined {
  return ID.test(processId) ? processId.slice(0, TOKEN_LENGTH) : undefined;
}
