import type { LoginKeyStore } from '../network/login-context.js';

/**
 * Where a completed login's `secrets` (CompletedLogin.secrets: session tokens, auth keys) live in
 * its key store: namespace `login`, key id = the secret's name. The core writes them once the
 * login completes; the connector's client reads them in connect(), e.g.
 * `ctx.keys.get(LOGIN_SECRETS_NAMESPACE, 'session')`.
 */
export const LOGIN_SECRETS_NAMESPACE = 'login';

/** Stores every secret of a completed login in one transaction (resolves after COMMIT). */
export async function saveLoginSecrets(keys: LoginKeyStore, secrets: Record<string, Uint8Array>): Promise<void> {
  const entries = Object.entries(secrets).map(([keyId, value]) => ({ namespace: LOGIN_SECRETS_NAMESPACE, keyId, value }));
  if (entries.length > 0) await keys.setMany(entries);
}
