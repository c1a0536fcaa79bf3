import { Type } from '@sinclair/typebox';
import { loginId } from '../../bridges/core/network/ids.js';
import type { NetworkClient } from '../../bridges/core/network/network-client.js';
import type { UserLoginRecord } from '../../bridges/core/storage/user-logins.js';
import { userOf } from '../auth.js';
import type { ProvisioningDeps } from '../deps.js';
import { ProvisioningError } from '../errors.js';
import { AUTH_ERRORS, NETWORK_ERRORS, err, type RouteTable } from '../route-table.js';
import { ContactsResponse, LoginIdQuery, ResolvedIdentifier } from '../schemas.js';
import { wireResolved } from '../wire.js';

const IdentifierParams = Type.Object({
  identifier: Type.String({ description: 'A phone number, username or remote user id, as the network understands it' }),
});

const LOGIN_ERRORS = {
  ...AUTH_ERRORS,
  ...NETWORK_ERRORS,
  400: err('FI.MAU.NOT_LOGGED_IN: the user has no login; or a bad parameter'),
  404: err('M_NOT_FOUND: login_id is not one of the user’s logins, or the identifier was not found'),
  501: err('M_UNRECOGNIZED: the network does not support this'),
  503: err('IO.CAUSEWAY_LOGIN_NOT_RUNNING: the login has no running session in this process'),
};

/**
 * The login the request acts through: `?login_id=` (must be the user's) or else the user's first
 * login whose session runs here, else their first login. As in mautrix.
 */
async function loginFor(deps: ProvisioningDeps, user: string, requested: string | undefined) {
  let login: UserLoginRecord | undefined;
  if (requested) {
    login = await deps.logins.get(loginId(requested));
    if (!login || login.userMxid !== user) throw ProvisioningError.notFound('Login not found');
  } else {
    const all = await deps.logins.listForUser(user);
    login = all.find((l) => deps.client(l.loginId)) ?? all[0];
    if (!login) throw new ProvisioningError('FI.MAU.NOT_LOGGED_IN', 'Not logged in', 400);
  }
  const client = deps.client(login.loginId);
  // The session may be starting, reconnecting or leased by another worker.
  if (!client) throw new ProvisioningError('IO.CAUSEWAY_LOGIN_NOT_RUNNING', 'The login is not connected in this bridge process', 503);
  return { login, client };
}

async function resolve(client: NetworkClient, identifier: string, createChat: boolean) {
  if (!client.resolveIdentifier) throw ProvisioningError.unsupported('This bridge does not support resolving identifiers');
  const found = await client.resolveIdentifier(identifier, createChat);
  if (!found) throw ProvisioningError.notFound('Identifier not found');
  return found;
}

/** Starting new chats: contacts, resolve_identifier, create_dm. */
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
    async (req) => {
      const { login, client } = await loginFor(deps, userOf(req), req.query.login_id);
      if (!client.getContacts) throw ProvisioningError.unsupported('This bridge does not support listing contacts');
      const contacts = await client.getContacts();
      return { contacts: await Promise.all(contacts.map((c) => wireResolved(deps, login, c))) };
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
    async (req) => {
      const { login, client } = await loginFor(deps, userOf(req), req.query.login_id);
      return wireResolved(deps, login, await resolve(client, req.params.identifier, false));
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
      const { login, client } = await loginFor(deps, userOf(req), req.query.login_id);
      const target = await resolve(client, req.params.identifier, true);
      const dm = await deps.createDm(login, target);
      const body = await wireResolved(deps, login, { ...target, chatId: undefined });
      reply.code(dm.created ? 201 : 200);
      return { ...body, dm_room_mxid: dm.roomId };
    },
  );
}
