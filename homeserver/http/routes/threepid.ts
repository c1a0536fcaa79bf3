import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { MatrixError } from '../../matrix/errors.js';
import { clientRoute } from './client-route.js';

const Medium = Type.Union([Type.Literal('email'), Type.Literal('msisdn')]);
const ThreepidBody = Type.Object(
  { medium: Medium, address: Type.String(), id_server: Type.Optional(Type.String()) },
  { additionalProperties: true },
);
const AnyBody = Type.Optional(Type.Object({}, { additionalProperties: true }));

/** Synapse's answer when enable_3pid_changes is off, which is what our m.3pid_changes capability says. */
const changesDisabled = () => MatrixError.forbidden('3PID changes are disabled on this server');
/** Synapse's answers when no email (or SMS delegate) is configured; the spec's errcode for it. */
const unsupported = (message: string) => new MatrixError('M_THREEPID_MEDIUM_NOT_SUPPORTED', message);

/**
 * Third-party identifiers (spec: "Adding Account Administrative Contact Information"). Causeway
 * sends no email or SMS and talks to no identity server, so no 3PID can ever be validated: the
 * list is always empty, changes are refused as Synapse refuses them with `enable_3pid_changes:
 * false` (capabilities advertise `m.3pid_changes: false`), and every requestToken answers 400
 * M_THREEPID_MEDIUM_NOT_SUPPORTED with Synapse's message for a server without email. Known
 * endpoints therefore never answer 404 or 500.
 */
export async function threepidRoutes(app: FastifyInstance): Promise<void> {
  /** `GET /_matrix/client/v3/account/3pid` — always empty: nothing can add one. */
  clientRoute(app, 'GET', '/_matrix/client/v3/account/3pid', {}, async () => ({ threepids: [] }));

  /** `POST /_matrix/client/v3/account/3pid` (deprecated) — 403 M_FORBIDDEN, 3PID changes are disabled. */
  clientRoute(app, 'POST', '/_matrix/client/v3/account/3pid', { schema: { body: AnyBody } }, async () => {
    throw changesDisabled();
  });

  /** `POST /_matrix/client/v3/account/3pid/add` — 403 M_FORBIDDEN before any UIA (as Synapse). */
  clientRoute(app, 'POST', '/_matrix/client/v3/account/3pid/add', { schema: { body: AnyBody } }, async () => {
    throw changesDisabled();
  });

  /** `POST /_matrix/client/v3/account/3pid/delete` — 403 M_FORBIDDEN, 3PID changes are disabled. */
  clientRoute(app, 'POST', '/_matrix/client/v3/account/3pid/delete', { schema: { body: AnyBody } }, async () => {
    throw changesDisabled();
  });

  /** `POST /_matrix/client/v3/account/3pid/bind` — 400 M_SERVER_NOT_TRUSTED: we call no identity server. */
  clientRoute(
    app,
    'POST',
    '/_matrix/client/v3/account/3pid/bind',
    {
      schema: {
        body: Type.Object({ client_secret: Type.String(), id_server: Type.String(), id_access_token: Type.String(), sid: Type.String() }),
      },
    },
    async () => {
      throw new MatrixError('M_SERVER_NOT_TRUSTED', 'This server does not bind third-party identifiers on identity servers');
    },
  );

  /** `POST /_matrix/client/v3/account/3pid/unbind` — nothing was ever bound by us: `no-support`, as Synapse. */
  clientRoute(app, 'POST', '/_matrix/client/v3/account/3pid/unbind', { schema: { body: ThreepidBody } }, async () => ({
    id_server_unbind_result: 'no-support',
  }));

  const refusals: [string, boolean, string][] = [
    ['/_matrix/client/v3/account/3pid/email/requestToken', true, 'Adding an email to your account is disabled on this server'],
    [
      '/_matrix/client/v3/account/3pid/msisdn/requestToken',
      true,
      'Adding phone numbers to user account is not supported by this homeserver',
    ],
    ['/_matrix/client/v3/register/email/requestToken', false, 'Email-based registration has been disabled on this server'],
    ['/_matrix/client/v3/register/msisdn/requestToken', false, 'Registration by phone number is not supported on this homeserver'],
    ['/_matrix/client/v3/account/password/email/requestToken', false, 'Email-based password resets have been disabled on this server'],
    [
      '/_matrix/client/v3/account/password/msisdn/requestToken',
      false,
      'Phone number-based password resets are not supported on this server',
    ],
  ];
  for (const [path, auth, message] of refusals) {
    /**
     * `POST /_matrix/client/v3/{account/3pid,register,account/password}/{email,msisdn}/requestToken` —
     * 400 M_THREEPID_MEDIUM_NOT_SUPPORTED (registration and password reset need no access token).
     */
    clientRoute(app, 'POST', path, { auth, schema: { body: AnyBody } }, async () => {
      throw unsupported(message);
    });
  }
}
