import { Type } from '@sinclair/typebox';
import { userOf } from '../auth.js';
import { callLogin } from '../call-forwarding.js';
import type { ProvisioningDeps } from '../deps.js';
import { chooseLogin } from '../login-calls.js';
import { AUTH_ERRORS, NETWORK_ERRORS, err, type RouteTable } from '../route-table.js';
import { ContactsResponse, LoginIdQuery, ResolvedIdentifier } from '../schemas.js';

const IdentifierParams = Type.Object({
  identifier: Type.String({ description: 'A phone number, username or remote user id, as the network understands it' }),
});

const LOGIN_ERRORS = {
  ...AUTH_ERRORS,
  ...NETWORK_ERRORS,
  400: err('FI.MAU.NOT_LOGGED_IN: the user has no login; or a bad parameter'),
  404: err('M_NOT_FOUND: login_id is not one of the user’s logins, or the identifier was not found'),
  501: err('M_UNRECOGNIZED: the network does not support this'),
  503: err('IO.CAUSEWAY_LOGIN_NOT_RUNNING: no live bridge worker runs the login’s session (starting, reconnecting, or its worker died)'),
};

/**
 * Starting new chats: contacts, resolve_identifier, create_dm. Each needs the login's live
 * network client; when another worker runs it, callLogin forwards the call there.
 */
export function contactRoutes(table: RouteTable, deps: ProvisioningDeps): void {
  /** `GET /_matrix/provision/v3/contacts` — the login's contact list. */
  table.add(
    {
      method: 'GET',
      url: '/contacts',
      operationId: 'getContacts',
      summary: 'Get the contact list of a login',
      tags: ['snc'],
      querystring: LoginIdQuery,
      responses: { 200: { description: 'The contacts', schema: ContactsResponse }, ...LOGIN_ERRORS },
    },
    async (req, reply) => {
      const user = userOf(req);
      const login = await chooseLogin(deps, user, req.query.login_id);
      return callLogin(deps, user, { kind: 'contacts', loginId: login.loginId }, reply);
    },
  );

  /** `GET /_matrix/provision/v3/resolve_identifier/{identifier}` — looks a remote user up, creates nothing. */
  table.add(
    {
      method: 'GET',
      url: '/resolve_identifier/:identifier',
      operationId: 'resolveIdentifier',
      summary: 'Resolve an identifier to a user on the network',
      tags: ['snc'],
      params: IdentifierParams,
      querystring: LoginIdQuery,
      responses: { 200: { description: 'The resolved user', schema: ResolvedIdentifier }, ...LOGIN_ERRORS },
    },
    async (req, reply) => {
      const user = userOf(req);
      const login = await chooseLogin(deps, user, req.query.login_id);
      return callLogin(deps, user, { kind: 'resolve_identifier', loginId: login.loginId, identifier: req.params.identifier }, reply);
    },
  );

  /**
   * `POST /_matrix/provision/v3/create_dm/{identifier}` — resolves the identifier (letting the
   * network create the chat) and creates or finds the DM portal. 201 when the room is new.
   */
  table.add(
    {
      method: 'POST',
      url: '/create_dm/:identifier',
      operationId: 'createDM',
      summary: 'Create a direct chat with a user on the network',
      tags: ['snc'],
      params: IdentifierParams,
      querystring: LoginIdQuery,
      responses: {
        200: { description: 'The DM portal already existed', schema: ResolvedIdentifier },
        201: { description: 'The DM portal was created', schema: ResolvedIdentifier },
        ...LOGIN_ERRORS,
      },
    },
    async (req, reply) => {
      const user = userOf(req);
      const login = await chooseLogin(deps, user, req.query.login_id);
      return callLogin(deps, user, { kind: 'create_dm', loginId: login.loginId, identifier: req.params.identifier }, reply);
    },
  );
}
