import type { Logger } from '../../../homeserver/runtime/logger.js';
import { botMxid } from '../ids.js';
import { CsClient } from './cs-client.js';
import { Intent } from './intent.js';
import { untilHomeserverReady } from './until-homeserver-ready.js';

/**
 * The bridge's Matrix side as an application service: the bot and the ghosts, all speaking the
 * Client-Server API over HTTP with the as_token, so the same code serves Causeway or any other
 * homeserver. Holds what it learnt from `/versions` (Beeper batch sending for backfill).
 */
export class MatrixSide {
  readonly cs: CsClient;
  readonly bot: Intent;
  batchSend = false;
  private intents = new Map<string, Intent>();

  constructor(private opts: { homeserverUrl: string; asToken: string; bridgeId: string; serverName: string; log: Logger }) {
    this.cs = new CsClient(opts.homeserverUrl, opts.asToken, opts.log);
    this.bot = new Intent(this.cs, botMxid(opts.bridgeId, opts.serverName), true);
  }

  /** Registers the bot and reads the homeserver's unstable features. */
  async start(): Promise<void> {
    // The first call of a bridge worker may reach a homeserver that is starting or has not loaded the registration yet.
    await untilHomeserverReady(() => this.bot.register(), this.opts.log);
    const versions = await this.cs.request<{ unstable_features?: Record<string, boolean> }>('GET', '/_matrix/client/versions');
    this.batchSend = versions.unstable_features?.['com.beeper.batch_sending'] === true;
  }

  /** The intent of a ghost (masquerading with `?user_id=`); a bounded cache of the objects. */
  intent(userId: string): Intent {
    if (userId === this.bot.userId) return this.bot;
    let intent = this.intents.get(userId);
    if (!intent) {
      intent = new Intent(this.cs, userId, false);
      if (this.intents.size >= 10_000) this.intents.delete(this.intents.keys().next().value!);
      this.intents.set(userId, intent);
    }
    return intent;
  }
}
