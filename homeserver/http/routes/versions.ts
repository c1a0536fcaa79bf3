import type { FastifyInstance } from 'fastify';
import { signJson } from '../../matrix/signing.js';
import { BATCH_SEND_FEATURE } from './batch-send.js';

/** Spec versions whose Client-Server API this server implements (v1.4+ so bridges accept it). */
export const SPEC_VERSIONS = ['r0.6.1', 'v1.1', 'v1.2', 'v1.3', 'v1.4', 'v1.5', 'v1.6', 'v1.7', 'v1.8', 'v1.9', 'v1.10', 'v1.11'];

export async function versionRoutes(app: FastifyInstance): Promise<void> {
  const { services } = app;

  /**
   * `GET /_matrix/client/versions` — no auth; spec versions and unstable features. Threads come with
   * v1.4 for current clients; `org.matrix.msc3440.stable` is what Synapse advertises for clients
   * that predate that check.
   */
  app.get('/_matrix/client/versions', async () => ({
    versions: SPEC_VERSIONS,
    unstable_features: { [BATCH_SEND_FEATURE]: true, 'org.matrix.msc3440.stable': true },
  }));

  /** `GET /.well-known/matrix/client` — where clients find the homeserver. */
  app.get('/.well-known/matrix/client', async () => ({ 'm.homeserver': { base_url: services.config.public_baseurl } }));

  /** `GET /_matrix/key/v2/server` — the server's signing key, self-signed (spec: Server-Server API). */
  app.get('/_matrix/key/v2/server', async () => {
    const key = services.signingKey;
    return signJson(
      {
        server_name: services.serverName,
        valid_until_ts: Date.now() + 7 * 24 * 3600_000,
        verify_keys: { [key.keyId]: { key: key.publicKeyBase64 } },
        old_verify_keys: {},
      },
      services.serverName,
      key,
    );
  });
}
