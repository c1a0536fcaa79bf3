import type { PubSub } from '../../runtime/ports.js';
import type { Accounts, UserRow } from './accounts.js';

const CHANGED_TOPIC = 'hs.users.changed';
const LIMIT = 100_000;

/**
 * Per-request user flags (admin, deactivated) without a database round trip. Changes to a user
 * are broadcast so every process drops its copy.
 */
export class UserCache {
  private users = new Map<string, UserRow>();

  constructor(
    private accounts: Accounts,
    private pubsub: PubSub,
  ) {}

  async start(): Promise<void> {
    await this.pubsub.subscribe(CHANGED_TOPIC, (msg) => this.users.delete((msg as { userId: string }).userId));
  }

  async get(userId: string): Promise<UserRow | undefined> {
    const hit = this.users.get(userId);
    if (hit) return hit;
    const row = await this.accounts.getUser(userId);
    if (!row) return undefined;
    if (this.users.size >= LIMIT) this.users.delete(this.users.keys().next().value!);
    this.users.set(userId, row);
    return row;
  }

  async changed(userId: string): Promise<void> {
    this.users.delete(userId);
    await this.pubsub.publish(CHANGED_TOPIC, { userId });
  }
}
