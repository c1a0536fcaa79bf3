import type { FastifyError, FastifyInstance } from 'fastify';
import { MatrixError, UiaRequired } from '../matrix/errors.js';

/** Maps a Fastify/ajv validation failure to the spec's errcodes. */
function validationError(err: FastifyError): MatrixError {
  const first = err.validation?.[0];
  const where = err.validationContext ?? 'body';
  const field = first
    ? `${first.instancePath || ''}${first.params && 'missingProperty' in first.params ? `/${String(first.params.missingProperty)}` : ''}`
    : '';
  const message = `${where}${field ? ` ${field}` : ''}: ${first?.message ?? 'invalid'}`;
  if (first?.keyword === 'required') return new MatrixError('M_MISSING_PARAM', message);
  return where === 'body' ? MatrixError.badJson(message) : MatrixError.invalidParam(message);
}

/**
 * One error handler for the whole API. Client mistakes become Matrix errors with the spec's status;
 * anything else is logged in full and answered with a sanitised 500 (no SQL, stack or internals).
 */
export function installErrorHandling(app: FastifyInstance, routePatterns: RegExp[]): void {
  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err instanceof UiaRequired) return reply.code(401).send(err.body);
    if (err instanceof MatrixError) {
      if (err.errcode === 'M_LIMIT_EXCEEDED') reply.header('Retry-After', Math.ceil(Number(err.extra.retry_after_ms) / 1000));
      return reply.code(err.status).send(err.toJSON());
    }
    if (err.validation) return reply.code(400).send(validationError(err).toJSON());
    switch (err.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return reply.code(413).send(new MatrixError('M_TOO_LARGE', 'Request body is too large').toJSON());
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      case 'FST_ERR_CTP_INVALID_JSON_BODY':
        return reply.code(400).send(new MatrixError('M_NOT_JSON', 'Content not JSON.').toJSON());
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return reply.code(400).send(new MatrixError('M_NOT_JSON', 'Content not JSON.').toJSON());
    }
    if (err instanceof SyntaxError || err.statusCode === 400) {
      return reply.code(400).send(new MatrixError('M_NOT_JSON', 'Content not JSON.').toJSON());
    }
    req.log.error({ err }, 'unhandled error');
    return reply.code(500).send({ errcode: 'M_UNKNOWN', error: 'Internal server error' });
  });

  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0]!;
    // A known path with the wrong method is 405 (spec: M_UNRECOGNIZED with 405).
    const known = req.method !== 'OPTIONS' && routePatterns.some((p) => p.test(path));
    reply.code(known ? 405 : 404).send(MatrixError.unrecognized('Unrecognized request', known ? 405 : 404).toJSON());
  });
}
