/**
 * The provisioning API's user auth: a Matrix access token is valid when the homeserver's
 * `GET /_matrix/client/v3/account/whoami` accepts it. Works against any homeserver; no caching,
 * so a revoked token stops working at once.
 */
export function whoamiVerifier(homeserverUrl: string): (token: string) => Promise<string | undefined> {
  const url = `${homeserverUrl.replace(/\/+$/, '')}/_matrix/client/v3/account/whoami`;
  return async (token) => {
    const res = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(10_000) });
    if (!res.ok) return undefined;
    const body = (await res.json()) as { user_id?: string };
    return typeof body.user_id === 'string' ? body.user_id : undefined;
  };
}
