import type { ConnectFailure } from './types.js';

/** A refusal by the fake network's server (not a member, unknown message, not connected). */
export class FakeNetworkError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** Whether trying again later may work (a dropped connection) or never will (forbidden). */
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

/** A failed connect attempt; the client turns `reason` into a bridge state. */
export class FakeConnectError extends Error {
  constructor(readonly reason: ConnectFailure) {
    super(`fakenet connect failed: ${reason}`);
  }
}
