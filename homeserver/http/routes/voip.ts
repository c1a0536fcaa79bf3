import type { FastifyInstance } from 'fastify';
import { turnCredentials } from '../../services/voip/turn-credentials.js';
import { clientRoute } from './client-route.js';

export async function voipRoutes(app: FastifyInstance): Promise<void> {
  const { services } = app;

  /**
   * `GET /_matrix/client/v3/voip/turnServer` — TURN credentials for calls (config `turn`), or `{}`
   * when no TURN server is configured, as Synapse answers. The shared secret never leaves this
   * process: only the HMAC derived from it does.
   */
  clientRoute(app, 'GET', '/_matrix/client/v3/voip/turnServer', {}, async (req) =>
    turnCredentials(services.config.turn, req.requester.userId),
  );
}
