import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { MatrixError } from '../../matrix/errors.js';
import { clientRoute } from './client-route.js';

/**
 * OpenID (spec: Client-Server "OpenID", Server-Server "OpenID"): a client proves who it is to an
 * integration — a widget, Element Call's focus (lk-jwt-service) — without handing over its access
 * token. Causeway does not federate, but the integrations call the federation userinfo endpoint
 * on this server to check a token, so that one endpoint is served, without client auth.
 */
export async function openIdRoutes(app: FastifyInstance): Promise<void> {
  const { services } = app;

  /** `POST /_matrix/client/v3/user/{userId}/openid/request_token` — a token for yourself only (403 for anyone else). */
  clientRoute(
    app,
    'POST',
    '/_matrix/client/v3/user/:userId/openid/request_token',
    {
      schema: {
        params: Type.Object({ userId: Type.String() }),
        // The spec's body is an empty object; its content is ignored (as Synapse does).
        body: Type.Optional(Type.Object({}, { additionalProperties: true })),
      },
    },
    async (req) => {
      const { userId } = req.params as { userId: string };
      if (userId !== req.requester.userId) throw MatrixError.forbidden('Cannot request tokens for other users.');
      const { token, expiresIn } = await services.openid.issue(userId);
      return { access_token: token, token_type: 'Bearer', matrix_server_name: services.serverName, expires_in: expiresIn };
    },
  );

  /**
   * `GET /_matrix/federation/v1/openid/userinfo?access_token=...` — who an OpenID token belongs to:
   * `{sub}`, or 401 M_UNKNOWN_TOKEN for an unknown or expired one. No auth: the token is the proof.
   */
  app.get(
    '/_matrix/federation/v1/openid/userinfo',
    { schema: { querystring: Type.Object({ access_token: Type.Optional(Type.String()) }) } },
    async (req) => {
      const token = (req.query as { access_token?: string }).access_token;
      if (!token) throw new MatrixError('M_MISSING_TOKEN', 'Access Token required');
      const userId = await services.openid.userFor(token);
      if (!userId) throw new MatrixError('M_UNKNOWN_TOKEN', 'Access Token unknown or expired');
      return { sub: userId };
    },
  );
}
