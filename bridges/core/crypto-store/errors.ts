/**
 * The crypto store's errors. None carries key material, plaintext or the master secret; login
 * ids, namespaces and key ids are identifiers, not secrets, and help the operator.
 */

/** A fenced write was refused: the login's lease now has another token (another worker owns it). Nothing was written. */
export class LeaseLostError extends Error {
  constructor(
    readonly bridgeId: string,
    readonly loginId: string,
  ) {
    super(`crypto store write refused for login ${loginId} of bridge ${bridgeId}: this worker no longer holds the login's lease`);
  }
}

/** A stored key would not open (wrong master key, a ciphertext moved between rows, corruption). */
export class CryptoKeyOpenError extends Error {
  constructor(
    readonly reason: 'unknown-version' | 'cannot-authenticate' | 'wrong-row',
    readonly loginId: string,
    readonly namespace: string,
    readonly keyId: string,
    detail: string,
  ) {
    super(`crypto store: key ${namespace}/${keyId} of login ${loginId}: ${detail}`);
  }
}

/** The configured master key is not the one this bridge's keys were sealed with. */
export class MasterKeyMismatchError extends Error {
  constructor(readonly bridgeId: string) {
    super(
      `crypto store of bridge ${bridgeId}: the configured master key does not open the stored keys ` +
        '(it differs from the key they were written with); restore the original master key',
    );
  }
}
