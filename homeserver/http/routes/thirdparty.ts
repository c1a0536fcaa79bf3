import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { MatrixError } from '../../matrix/errors.js';
import type { ThirdPartyRequest } from '../../services/appservices/thirdparty-port.js';
import { clientRoute } from './client-route.js';

const ProtocolParams = Type.Object({ protocol: Type.String() });

/**
 * Third-party network lookups (spec: "Third-party Networks"), answered by the appservices that
 * declare the protocol (appservice-api/thirdparty.ts). Without appservice delivery there are no
 * protocols: the list is empty and every protocol is unknown.
 */
export async function thirdPartyRoutes(app: FastifyInstance): Promise<void> {
  const ask = (req: ThirdPartyRequest) => {
    const port = app.services.appserviceDelivery;
    if (!port) {
      if (req.kind === 'protocols') return {};
      if (req.kind === 'location-by-alias' || req.kind === 'user-by-id') return [];
      throw MatrixError.notFound(`Unknown protocol ${req.protocol}`);
    }
    return port.thirdParty(req);
  };

  /** `GET /_matrix/client/v3/thirdparty/protocols` */
  clientRoute(app, 'GET', '/_matrix/client/v3/thirdparty/protocols', {}, async () => ask({ kind: 'protocols' }));

  /** `GET /_matrix/client/v3/thirdparty/protocol/{protocol}` — 404 M_NOT_FOUND for an unknown protocol. */
  clientRoute(app, 'GET', '/_matrix/client/v3/thirdparty/protocol/:protocol', { schema: { params: ProtocolParams } }, async (req) =>
    ask({ kind: 'protocol', protocol: (req.params as { protocol: string }).protocol }),
  );

  /** `GET /_matrix/client/v3/thirdparty/location/{protocol}?{fields}` and `/user/{protocol}?{fields}` */
  for (const kind of ['location', 'user'] as const) {
    clientRoute(app, 'GET', `/_matrix/client/v3/thirdparty/${kind}/:protocol`, { schema: { params: ProtocolParams } }, async (req) =>
      ask({ kind, protocol: (req.params as { protocol: string }).protocol, fields: fieldsOf(req.query) }),
    );
  }

  /** `GET /_matrix/client/v3/thirdparty/location?alias=` */
  clientRoute(app, 'GET', '/_matrix/client/v3/thirdparty/location', {}, async (req) =>
    ask({ kind: 'location-by-alias', alias: required(req.query, 'alias') }),
  );

  /** `GET /_matrix/client/v3/thirdparty/user?userid=` */
  clientRoute(app, 'GET', '/_matrix/client/v3/thirdparty/user', {}, async (req) =>
    ask({ kind: 'user-by-id', userId: required(req.query, 'userid') }),
  );
}

/** The protocol's search fields: every query parameter but the access token (one value each). */
function fieldsOf(query: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries((query ?? {}) as Record<string, unknown>)) {
    if (k === 'access_token') continue;
    const value = Array.isArray(v) ? v[0] : v;
    if (typeof value === 'string') out[k] = value;
  }
  return out;
}

function required(query: unknown, name: string): string {
  const v = fieldsOf(query)[name];
  if (!v) throw MatrixError.missingParam(`Missing query parameter ${name}`);
  return v;
}
