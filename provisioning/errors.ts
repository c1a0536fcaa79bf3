import type { FastifyError, FastifyInstance } from 'fastify';
import { LoginProcessError, type LoginProcessErrorKind } from '../bridges/core/login/index.js';
import { LoginError } from '../bridges/core/network/login-process.js';
import { NetworkError } from '../bridges/core/network/network-client.js';
import { MatrixError } from '../homeserver/matrix/errors.js';

/**
 * An error answered as `{errcode, error}` with its status. Unlike the homeserver's MatrixError its
 * errcode is any string: the provisioning API also speaks mautrix's `FI.MAU.*` codes, connector
 * LoginError codes and our own `IO.CAUSEWAY_*` ones.
 */
export class ProvisioningError extends Error {
  constructor(
    readonly errcode: string,
    message: string,
    readonly status: number,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }

  toJSON(): Record<string, unknown> {
    return { errcode: this.errcode, error: this.message, ...this.extra };
  }

  static notFound = (msg: string) => new ProvisioningError('M_NOT_FOUND', msg, 404);
  static unsupported = (msg: string) => new ProvisioningError('M_UNRECOGNIZED', msg, 501);
}

/** mautrix answers an unknown process, an unknown flow and an expired process alike with M_NOT_FOUND. */
const PROCESS_ERRORS: Record<LoginProcessErrorKind, { errcode: string; status: number }> = {
  unknown_flow: { errcode: 'M_NOT_FOUND', status: 404 },
  not_found: { errcode: 'M_NOT_FOUND', status: 404 },
  expired: { errcode: 'M_NOT_FOUND', status: 404 },
  ended: { errcode: 'M_NOT_FOUND', status: 404 },
  wrong_step: { errcode: 'M_BAD_STATE', status: 400 },
  busy: { errcode: 'IO.CAUSEWAY_LOGIN_STEP_IN_PROGRESS', status: 409 },
  too_many: { errcode: 'M_LIMIT_EXCEEDED', status: 429 },
};

/** Maps a Fastify/ajv validation failure: path and query problems are params, the rest is the body. */
function validationError(err: FastifyError): ProvisioningError {
  const first = err.validation?.[0];
  const where = err.validationContext ?? 'body';
  const missing = first?.params && 'missingProperty' in first.params ? `/${String(first.params.missingProperty)}` : '';
  const message = `${where} ${first?.instancePath ?? ''}${missing}: ${first?.message ?? 'invalid'}`.replace(/ {2,}/g, ' ');
  if (first?.keyword === 'required') return new ProvisioningError('M_MISSING_PARAM', message, 400);
  return where === 'body' ? new ProvisioningError('M_BAD_JSON', message, 400) : new ProvisioningError('M_INVALID_PARAM', message, 400);
}

/** Turns anything thrown inside the plugin into the error a client should see, or undefined for a 500. */
export function clientError(err: unknown): ProvisioningError | undefined {
  if (err instanceof ProvisioningError) return err;
  if (err instanceof LoginProcessError) {
    const { errcode, status } = PROCESS_ERRORS[err.kind];
    return new ProvisioningError(errcode, err.message, status);
  }
  // A user-facing failure from the connector (wrong code, expired QR): its code and message are
  // meant for the user; `retryable` says whether the process is still there to try again.
  if (err instanceof LoginError) return new ProvisioningError(err.code, err.message, 400, { retryable: err.retryable });
  // The network failed or refused (not the client's mistake, not ours): a 502 with its stable code.
  if (err instanceof NetworkError) {
    return new ProvisioningError('IO.CAUSEWAY_NETWORK_ERROR', `The network failed the request (${err.code})`, 502, {
      retryable: err.retryable,
    });
  }
  if (err instanceof MatrixError) return new ProvisioningError(err.errcode, err.message, err.status, err.extra);
  const fe = err as FastifyError;
  if (fe?.validation) return validationError(fe);
  switch (fe?.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ProvisioningError('M_TOO_LARGE', 'Request body is too large', 413);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new ProvisioningError('M_NOT_JSON', 'Content not JSON.', 400);
  }
  if (err instanceof SyntaxError) return new ProvisioningError('M_NOT_JSON', 'Content not JSON.', 400);
  return undefined;
}

/** A response as status and JSON body: what a forwarded login-process call sends back whole. */
export interface Answer {
  status: number;
  body: Record<string, unknown>;
}

/**
 * The response for an error: the client's mistake as its Matrix-style error, anything else
 * passed to `logUnexpected` and answered with a sanitised 500, so no SQL, stack or connector
 * internals reach a client. One mapping for the error handler and forwarded calls alike.
 */
export function errorAnswer(err: unknown, logUnexpected: (err: unknown) => void): Answer {
  const known = clientError(err);
  if (known) return { status: known.status, body: known.toJSON() };
  logUnexpected(err);
  return { status: 500, body: { errcode: 'M_UNKNOWN', error: 'Internal server error' } };
}

/**
 * The plugin's own error and not-found handlers (Fastify scopes both to the plugin's prefix).
 * Client mistakes get Matrix-style errors with their status; anything else is logged in full and
 * answered with a sanitised 500 (errorAnswer).
 */
export function installErrorHandling(app: FastifyInstance, knownPaths: RegExp[]): void {
  app.setErrorHandler((err, req, reply) => {
    const { status, body } = errorAnswer(err, (e) => req.log.error({ err: e, route: req.routeOptions.url }, 'provisioning request failed'));
    return reply.code(status).send(body);
  });

  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0]!;
    const wrongMethod = knownPaths.some((p) => p.test(path));
    const status = wrongMethod ? 405 : 404;
    reply.code(status).send({ errcode: 'M_UNRECOGNIZED', error: wrongMethod ? 'Invalid method for endpoint' : 'Unrecognized endpoint' });
  });
}
