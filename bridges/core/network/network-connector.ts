import type { LoginContext } from './login-context.js';
import type { LoginFlow, LoginProcess } from './login-process.js';
import type { NetworkClient } from './network-client.js';

/**
 * One network (bridgev2 NetworkConnector): what the core needs to know about it and how to make
 * login processes and clients. Connectors only translate their network; portals, ghosts, queues,
 * the session pool and the crypto store are the core's.
 */
export interface NetworkConnector {
  /** `telegram`, `whatsapp`, `fakenet`: also the default bridge_id and ghost prefix. */
  readonly networkId: string;
  readonly displayName: string;
  /** Whether DMs/groups are per-login portals (WhatsApp: all chats) or shared (Telegram groups). */
  readonly portalsPerLogin: 'dm-only' | 'all';

  loginFlows(): LoginFlow[];
  /** Starts a login for a Matrix user; the process is kept by the core until complete, cancelled or expired. */
  createLogin(userMxid: string, flowId: string): LoginProcess;
  /**
   * Builds the client of a stored login. Must not do I/O (the pool calls connect() later, with
   * bounded concurrency); secrets are read through `ctx.keys` in connect().
   */
  loadLogin(ctx: LoginContext): NetworkClient;
}
