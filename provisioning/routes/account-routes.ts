import { Type } from '@sinclair/typebox';
import { loginId } from '../../bridges/core/network/ids.js';
import { userOf } from '../auth.js';
import type { ProvisioningDeps } from '../deps.js';
import { ProvisioningError } from '../errors.js';
import { AUTH_ERRORS, err, type RouteTable } from '../route-table.js';
import { EmptyObject, LoginsResponse, UserIdQuery, WhoamiResponse } from '../schemas.js';
import { wireWhoamiLogin } from '../wire.js';

/** The stored-login endpoints: logout, logins, whoami. */
export function accountRoutes(table: RouteTable, deps: ProvisioningDeps): void {
  /**
   * `POST /_matrix/provision/v3/logout/{loginId}` — logs one login (or `all`) out, on the network
   * too. Another user's login is reported as not found.
   */
  table.add(
    {
      method: 'POST',
      url: '/logout/:loginId',
      operationId: 'logout',
      summary: 'Log out of a login, or of all logins with `all`',
      tags: ['auth'],
      params: Type.Object({ loginId: Type.String({ description: 'A login id, or `all`' }) }),
      querystring: UserIdQuery,
      responses: {
        200: { description: 'Logged out', schema: EmptyObject },
        ...AUTH_ERRORS,
        404: err('M_NOT_FOUND: no such login for this user'),
      },
    },
    async (req) => {
      const user = userOf(req);
      const id = req.params.loginId;
      if (id === 'all') {
        // One at a time: each logout stops a session and talks to the network.
        for (const login of await deps.logins.listForUser(user)) await deps.logout(login, { remote: true });
        return {};
      }
      const login = await deps.logins.get(loginId(id));
      if (!login || login.userMxid !== user) throw ProvisioningError.notFound('Login not found');
      await deps.logout(login, { remote: true });
      return {};
    },
  );

  /** `GET /_matrix/provision/v3/logins` — the user's login ids. */
  table.add(
    {
      method: 'GET',
      url: '/logins',
      operationId: 'getLoginIDs',
      summary: 'Get the login ids of the user',
      tags: ['auth'],
      querystring: UserIdQuery,
      responses: { 200: { description: 'The login ids', schema: LoginsResponse }, ...AUTH_ERRORS },
    },
    async (req) => ({ login_ids: (await deps.logins.listForUser(userOf(req))).map((l) => l.loginId) }),
  );

  /** `GET /_matrix/provision/v3/whoami` — bridge and network info, flows, the user's logins with their states. */
  table.add(
    {
      method: 'GET',
      url: '/whoami',
      operationId: 'whoami',
      summary: 'Get info about the bridge and the user’s logins',
      tags: ['auth'],
      querystring: UserIdQuery,
      responses: { 200: { description: 'Bridge and login info', schema: WhoamiResponse }, ...AUTH_ERRORS },
    },
    async (req) => {
      const { connector, info } = deps;
      const logins = await deps.logins.listForUser(userOf(req));
      const live = logins.length > 0 ? deps.states?.() : undefined;
      return {
        network: {
          displayname: connector.displayName,
          network_id: connector.networkId,
          network_url: info.networkUrl ?? '',
          network_icon: info.networkIcon ?? '',
          beeper_bridge_type: info.beeperBridgeType ?? `io.causeway.${connector.networkId}`,
        },
        login_flows: deps.processes.flows(),
        homeserver: info.homeserver,
        bridge_bot: info.bridgeBot,
        command_prefix: info.commandPrefix,
        logins: logins.map((l) => wireWhoamiLogin(l, live?.get(l.loginId))),
      };
    },
  );
}
