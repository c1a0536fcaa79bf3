import type { Config } from './config-schema.js';
import { ROLES, runsRole } from './roles.js';

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '[::]']);

/**
 * Cross-field rules of `roles`: a subset of roles only makes sense when the other roles run in
 * other processes, and the processes must be able to find each other. Each message names the
 * setting to change.
 */
export function checkRoles(c: Config, add: (path: string, message: string) => void): void {
  const runs = `this process runs [${c.roles.join(', ')}]`;
  const partial = ROLES.some((role) => !runsRole(c, role));
  if (partial && c.runtime.transport === 'memory')
    add(
      '/roles',
      `${runs}, but runtime.transport 'memory' means a single process, which must run every role (${ROLES.join(', ')}). ` +
        "Run the other roles in other processes with runtime.transport 'redis' and database.engine 'postgres', or drop `roles`.",
    );
  else if (partial && c.database.engine === 'embedded')
    add(
      '/roles',
      `${runs}, but database.engine 'embedded' is a private server of one process; processes that split the roles ` +
        "share database.engine 'postgres'.",
    );

  c.bridges.forEach((bridge, i) => {
    const at = `/bridges/${i}/appservice`;
    const ap = bridge.appservice;
    if (ap.mode === 'inproc') {
      // inproc transactions are handed over inside the delivering process, so delivery and the bridge must share it.
      if (runsRole(c, 'bridges') && !runsRole(c, 'appservice_delivery'))
        add(`${at}/mode`, `'inproc' needs the homeserver's appservice_delivery in the same process, but ${runs}: use 'http'`);
      if (!runsRole(c, 'bridges') && runsRole(c, 'appservice_delivery'))
        add(
          `${at}/mode`,
          `'inproc' bridges get their transactions from the process running them, but ${runs} and delivers without them: ` +
            "use 'http' for bridges that run in processes of their own",
        );
    }
    if (runsRole(c, 'bridges') && !runsRole(c, 'client_api') && !ap.homeserver_url)
      add(
        `${at}/homeserver_url`,
        `required when the process runs no client_api (${runs}): the Client-Server API URL the bridge calls, e.g. the load balancer's`,
      );
    if (runsRole(c, 'bridges') && ap.mode === 'http' && !ap.url && WILDCARD_HOSTS.has(ap.listen_host))
      add(
        `${at}/url`,
        `required when listen_host is '${ap.listen_host}': the address the homeserver pushes transactions to (http://<this host>:${ap.listen_port})`,
      );
  });
}
