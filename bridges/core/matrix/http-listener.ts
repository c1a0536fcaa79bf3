import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { closeConnectionsOnClose } from '../../../homeserver/http/connections.js';
import type { TransactionReceiver } from './transaction-receiver.js';

/**
 * The appservice HTTP API for cluster mode (the homeserver pushes to `url: http://...`): a small
 * Fastify server of its own, since a bridge worker may run without the client API. Every request
 * must carry the hs_token (Authorization: Bearer, or the legacy `access_token` query), compared
 * in constant time over SHA-256 digests so neither content nor length leaks.
 */
export function buildAppserviceListener(opts: {
  hsToken: string;
  receiver: TransactionReceiver;
  /** `GET /_matrix/app/v1/users/{userId}`: whether the bridge knows this ghost. */
  userExists(userId: string): Promise<boolean>;
}): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 * 1024 });
  // The homeserver's fetch pool may hold a connection here it never used: the bridge's stop must not wait on it.
  closeConnectionsOnClose(app);
  const expected = createHash('sha256').update(opts.hsToken).digest();
  const authorised = (req: FastifyRequest): boolean => {
    const header = req.headers.authorization;
    const token = header?.startsWith('Bearer ') ? header.slice(7) : (req.query as { access_token?: string }).access_token;
    if (!token) return false;
    return timingSafeEqual(createHash('sha256').update(token).digest(), expected);
  };
  app.addHook('onRequest', async (req, reply) => {
    if (!authorised(req)) return reply.code(403).send({ errcode: 'M_FORBIDDEN', error: 'Bad hs_token' });
  });

  for (const prefix of ['/_matrix/app/v1', '']) {
    /** `PUT /_matrix/app/v1/transactions/{txnId}` (and the legacy unprefixed path). */
    app.put(`${prefix}/transactions/:txnId`, async (req) => {
      await opts.receiver.receive((req.params as { txnId: string }).txnId, (req.body ?? {}) as Record<string, never>);
      return {};
    });
  }

  /** `GET /_matrix/app/v1/users/{userId}` */
  app.get('/_matrix/app/v1/users/:userId', async (req, reply) => {
    if (await opts.userExists((req.params as { userId: string }).userId)) return {};
    return reply.code(404).send({ errcode: 'M_NOT_FOUND', error: 'No such user' });
  });

  /** `GET /_matrix/app/v1/rooms/{roomAlias}` — the bridge creates no rooms on alias queries. */
  app.get('/_matrix/app/v1/rooms/:alias', async (_req, reply) => reply.code(404).send({ errcode: 'M_NOT_FOUND', error: 'No such room' }));

  /** `POST /_matrix/app/v1/ping` (MSC2659) */
  app.post('/_matrix/app/v1/ping', async () => ({}));

  app.setNotFoundHandler((_req, reply) => reply.code(404).send({ errcode: 'M_UNRECOGNIZED', error: 'Unrecognized request' }));
  return app;
}
