import { Type } from '@sinclair/typebox';

/**
 * What a `causeway start` process runs. One process runs them all by default; in cluster mode each
 * process runs a subset over the same Postgres and Redis:
 * - `client_api`: the Client-Server API on `listen` (what the load balancer sends clients to);
 * - `appservice_delivery`: the loops pushing transactions to appservices and bridges (leased per
 *   appservice, so several processes may run it and one delivers each appservice);
 * - `bridges`: the bridges of the `bridges` list, each with its provisioning API (logins leased per login).
 * The background timers (presence idle/offline, typing expiry) belong to the homeserver and run in
 * every process that runs client_api or appservice_delivery: each timed change is a single
 * conditional UPDATE, so running them in several processes writes it once.
 */
export const ROLES = ['client_api', 'appservice_delivery', 'bridges'] as const;

export type Role = (typeof ROLES)[number];

export const RolesSchema = Type.Array(Type.Union(ROLES.map((role) => Type.Literal(role))), {
  default: [...ROLES],
  minItems: 1,
  description:
    `What this process runs: ${ROLES.join(', ')}. Default: all of them (one process). Cluster mode runs subsets in ` +
    'separate processes on Postgres + Redis (see deploy/cluster/). Override with `causeway start --roles=client_api,bridges` ' +
    "or CAUSEWAY__ROLES='[client_api, bridges]'.",
});

export function runsRole(config: { roles: readonly Role[] }, role: Role): boolean {
  return config.roles.includes(role);
}

/** Whether this process holds a homeserver (and with it the database schema, the sync notifier, the timers). */
export function runsHomeserver(config: { roles: readonly Role[] }): boolean {
  return runsRole(config, 'client_api') || runsRole(config, 'appservice_delivery');
}

/** The `--roles` flag: a comma-separated list ("client_api, bridges"), validated later with the rest of the config. */
export function parseRolesFlag(flag: string): string[] {
  return flag
    .split(',')
    .map((role) => role.trim())
    .filter(Boolean);
}
