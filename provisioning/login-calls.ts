import { loginId } from '../bridges/core/network/ids.js';
import type { NetworkClient } from '../bridges/core/network/network-client.js';
import type { UserLoginRecord } from '../bridges/core/storage/user-logins.js';
import type { ProvisioningDeps } from './deps.js';
import { ProvisioningError, type Answer } from './errors.js';
import { wireResolved } from './wire.js';

/**
 * The calls that need a login's live network client (contacts, resolve_identifier, create_dm),
 * as data: a route builds one once it knows which login acts, and the same object is run here or
 * sent to the worker whose session pool runs the login (call-forwarding.ts), so both paths run
 * exactly this code.
 */
export type LoginCall =
  | { kind: 'contacts'; loginId: string }
  | { kind: 'resolve_identifier'; loginId: string; identifier: string }
  | { kind: 'create_dm'; loginId: string; identifier: string };

/** The login has no session in this process (starting, reconnecting, or run by another worker). */
export const notRunning = () =>
  new ProvisioningError('IO.CAUSEWAY_LOGIN_NOT_RUNNING', 'The login is not connected in this bridge process', 503);

/**
 * The login a request acts through: `?login_id=` (must be the user's) or else the user's first
 * login whose session runs here, else their first login. As in mautrix.
 */
export async function chooseLogin(deps: ProvisioningDeps, user: string, requested: string | undefined): Promise<UserLoginRecord> {
  if (requested) return ownLogin(deps, user, requested);
  const all = await deps.logins.listForUser(user);
  const login = all.find((l) => deps.client(l.loginId)) ?? all[0];
  if (!login) throw new ProvisioningError('FI.MAU.NOT_LOGGED_IN', 'Not logged in', 400);
  return login;
}

/** The user's login with this id; another user's login is not found, exactly like an unknown one. */
async function ownLogin(deps: ProvisioningDeps, user: string, id: string): Promise<UserLoginRecord> {
  const login = await deps.logins.get(loginId(id));
  if (!login || login.userMxid !== user) throw ProvisioningError.notFound('Login not found');
  return login;
}

async function resolve(client: NetworkClient, identifier: string, createChat: boolean) {
  if (!client.resolveIdentifier) throw ProvisioningError.unsupported('This bridge does not support resolving identifiers');
  const found = await client.resolveIdentifier(identifier, createChat);
  if (!found) throw ProvisioningError.notFound('Identifier not found');
  return found;
}

/**
 * Runs a call for `user` through the login's session in this process. The ownership check is
 * repeated here because a forwarded call arrives with nothing but the user id and the login id.
 */
export async function runLoginCall(deps: ProvisioningDeps, user: string, call: LoginCall): Promise<Answer> {
  const login = await ownLogin(deps, user, call.loginId);
  const client = deps.client(login.loginId);
  if (!client) throw notRunning();
  switch (call.kind) {
    case 'contacts': {
      if (!client.getContacts) throw ProvisioningError.unsupported('This bridge does not support listing contacts');
      const contacts = await client.getContacts();
      return { status: 200, body: { contacts: await Promise.all(contacts.map((c) => wireResolved(deps, login, c))) } };
    }
    case 'resolve_identifier':
      return { status: 200, body: await wireResolved(deps, login, await resolve(client, call.identifier, false)) };
    case 'create_dm': {
      const target = await resolve(client, call.identifier, true);
      const dm = await deps.createDm(login, target);
      const body = await wireResolved(deps, login, { ...target, chatId: undefined });
      return { status: dm.created ? 201 : 200, body: { ...body, dm_room_mxid: dm.roomId } };
    }
  }
}

const isString = (v: unknown): v is string => typeof v === 'string';

/** Checks a call that arrived from another worker (see decodeProcessCall): refuses what no worker sends. */
export function decodeLoginCall(raw: unknown): LoginCall | undefined {
  if (!raw || typeof raw !== 'object') return undefined;
  const c = raw as Record<string, unknown>;
  if (!isString(c.loginId)) return undefined;
  switch (c.kind) {
    case 'contacts':
      return { kind: 'contacts', loginId: c.loginId };
    case 'resolve_identifier':
    case 'create_dm':
      return isString(c.identifier) ? { kind: c.kind, loginId: c.loginId, identifier: c.identifier } : undefined;
    default:
      return undefined;
  }
}
