import type { PubSub } from '../../homeserver/runtime/ports.js';
import { storedPortalKey } from './ids.js';
import type { LoginDirectory } from './login-directory.js';
import type { BridgeMetrics } from './metrics/bridge-metrics.js';
import type { EphemeralEvent, MatrixEvent, TransactionHandler } from './matrix/transaction-receiver.js';
import type { LoginId, PortalKey } from './network/ids.js';
import type { Outbox } from './outbox/outbox.js';
import type { PortalDeps } from './portal/portal-deps.js';
import type { Portals } from './portal/portals.js';
import type { PortalRecord } from './storage/portals.js';

/** Event types that go to the network through the outbox. */
const OUTBOUND = new Set(['m.room.message', 'm.sticker', 'm.reaction', 'm.room.redaction']);

/** A Matrix receipt or typing change for one login, carried over pub/sub to the worker holding the login. */
type EphemeralAction =
  | { kind: 'receipt'; loginId: LoginId; key: PortalKey; sender: string; eventId: string; ts: number }
  | { kind: 'typing'; loginId: LoginId; key: PortalKey; sender: string; typing: boolean };

/**
 * What the bridge does with the homeserver's transactions. Messages, reactions and redactions by
 * a login's owner in a portal are written to the outbox (durable before the transaction is
 * acknowledged); receipts and typing are ephemeral and go over pub/sub straight to the worker
 * that runs the login. Events of the bridge's own users (bot, ghosts) are echoes and ignored.
 */
export class MatrixIntake implements TransactionHandler {
  private typingNow = new Map<string, Set<string>>();
  private unsubscribe?: () => Promise<void>;
  private readonly topic: string;

  constructor(
    private deps: {
      portalDeps: PortalDeps;
      portals: Portals;
      outbox: Outbox;
      logins: LoginDirectory;
      pubsub: PubSub;
      metrics?: BridgeMetrics;
    },
  ) {
    this.topic = `bridge.ephemeral.${deps.portalDeps.bridgeId}`;
  }

  async start(): Promise<void> {
    this.unsubscribe = await this.deps.pubsub.subscribe(this.topic, (msg) => this.onAction(msg as EphemeralAction));
  }

  async stop(): Promise<void> {
    await this.unsubscribe?.();
  }

  private isOurs(userId: string): boolean {
    const { bridgeId, serverName } = this.deps.portalDeps;
    return userId === this.deps.portalDeps.matrix.bot.userId || (userId.startsWith(`@${bridgeId}_`) && userId.endsWith(`:${serverName}`));
  }

  async onEvents(events: MatrixEvent[]): Promise<void> {
    for (const ev of events) {
      if (!OUTBOUND.has(ev.type) || this.isOurs(ev.sender)) continue;
      const row = await this.deps.portalDeps.portals.getByRoom(ev.room_id);
      if (!row) continue;
      const loginId = await this.loginFor(ev.sender, row);
      if (!loginId) continue; // not logged in to this chat's network account: nothing to send as
      this.deps.metrics?.matrixEvent(ev.type);
      await this.deps.outbox.enqueue(ev, storedPortalKey(row.chatId, row.receiver), loginId);
    }
  }

  async onEphemeral(events: EphemeralEvent[]): Promise<void> {
    for (const ev of events) {
      if (ev.type === 'm.receipt') {
        for (const [eventId, byType] of Object.entries(ev.content)) {
          const reads = (byType as Record<string, Record<string, { ts?: number }>>)['m.read'] ?? {};
          for (const [userId, r] of Object.entries(reads))
            await this.route(ev.room_id, userId, (loginId, key) => ({
              kind: 'receipt',
              loginId,
              key,
              sender: userId,
              eventId,
              ts: r.ts ?? Date.now(),
            }));
        }
      } else if (ev.type === 'm.typing') {
        const now = new Set(((ev.content.user_ids ?? []) as string[]).filter((u) => !this.isOurs(u)));
        const before = this.typingNow.get(ev.room_id) ?? new Set<string>();
        this.typingNow.set(ev.room_id, now);
        for (const u of now)
          if (!before.has(u))
            await this.route(ev.room_id, u, (loginId, key) => ({ kind: 'typing', loginId, key, sender: u, typing: true }));
        for (const u of before)
          if (!now.has(u)) await this.route(ev.room_id, u, (loginId, key) => ({ kind: 'typing', loginId, key, sender: u, typing: false }));
      }
    }
  }

  private async route(roomId: string, userId: string, make: (loginId: LoginId, key: PortalKey) => EphemeralAction): Promise<void> {
    if (this.isOurs(userId)) return;
    const row = await this.deps.portalDeps.portals.getByRoom(roomId);
    if (!row) return;
    const loginId = await this.loginFor(userId, row);
    if (!loginId) return;
    const action = make(loginId, storedPortalKey(row.chatId, row.receiver));
    this.deps.metrics?.matrixEvent(action.kind === 'receipt' ? 'm.receipt' : 'm.typing');
    await this.deps.pubsub.publish(this.topic, action);
  }

  /** The sender's login in this portal: the receiver of a per-login portal, else one of the sender's logins taking part. */
  private async loginFor(sender: string, portal: PortalRecord): Promise<LoginId | undefined> {
    const d = this.deps.portalDeps;
    if (portal.receiver) {
      const login = await d.userLogins.get(portal.receiver);
      return login?.userMxid === sender ? login.loginId : undefined;
    }
    const inPortal = new Set(await d.userPortals.loginsIn(storedPortalKey(portal.chatId, portal.receiver)));
    return (await d.userLogins.listForUser(sender)).find((l) => inPortal.has(l.loginId))?.loginId;
  }

  /** Runs in the worker holding the login; others ignore the message. */
  private onAction(a: EphemeralAction): void {
    const login = this.deps.logins.get(a.loginId);
    const client = login?.client();
    if (!login || !client) return;
    const portal = this.deps.portals.portalFor(a.key);
    portal.queue.push({
      bytes: 200,
      droppable: a.kind === 'typing',
      run: async () => {
        if (a.kind === 'typing') {
          await client.handleMatrixTyping?.({
            portal: a.key,
            sender: a.sender,
            timestamp: Date.now(),
            typing: a.typing,
            timeoutMs: a.typing ? 30_000 : 0,
          });
          return;
        }
        const target = await this.deps.portalDeps.messages.getByEventId(a.eventId);
        if (target) await client.handleMatrixReadReceipt?.({ portal: a.key, sender: a.sender, timestamp: a.ts, upToId: target.remoteId });
      },
    });
  }
}
