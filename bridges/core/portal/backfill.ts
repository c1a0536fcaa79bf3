import type { LoginHandle } from '../login-directory.js';
import type { RemoteMessage } from '../network/remote-event.js';
import type { Portal } from './portal.js';
import type { PortalDeps } from './portal-deps.js';
import { bridgeRemoteMessage, convertRemoteMessage, senderMxid } from './remote-message.js';
import { ensureJoined } from './room-creator.js';

/**
 * Initial backfill of a new portal: up to `backfillLimit` messages from the client's
 * fetchMessages (pages newest first), sent oldest first with their network timestamps. With the
 * homeserver's Beeper batch sending (`com.beeper.batch_sending` in /versions) they go as one
 * batch_send without notifications; otherwise as ordinary sends with the `ts` override.
 * The login reports BACKFILLING while it runs. Messages already mapped are skipped.
 */
export async function backfillPortal(deps: PortalDeps, portal: Portal, login: LoginHandle): Promise<void> {
  const client = login.client();
  if (!client?.fetchMessages || deps.backfillLimit <= 0) return;
  login.setState({ stateEvent: 'BACKFILLING' });
  try {
    const collected: RemoteMessage[] = [];
    let before: RemoteMessage['id'] | undefined;
    while (collected.length < deps.backfillLimit) {
      const page = await client.fetchMessages({
        chatId: portal.key.chatId,
        ...(before ? { before } : {}),
        limit: Math.min(100, deps.backfillLimit - collected.length),
      });
      collected.push(...page.messages);
      if (!page.hasMore || !page.messages.length) break;
      before = page.messages[page.messages.length - 1]!.id;
    }
    const oldestFirst = collected.slice(0, deps.backfillLimit).reverse();
    const known = await deps.messages.knownIds(
      portal.key,
      oldestFirst.map((m) => m.id),
    );
    const fresh = oldestFirst.filter((m) => !known.has(m.id));
    if (!fresh.length) return;
    if (deps.matrix.batchSend) await batch(deps, portal, fresh, login);
    else for (const m of fresh) await bridgeRemoteMessage(deps, portal, m, login);
    deps.log.debug({ chat: portal.key.chatId, count: fresh.length }, 'portal backfilled');
  } finally {
    login.setState({ stateEvent: 'CONNECTED' });
  }
}

async function batch(deps: PortalDeps, portal: Portal, messages: RemoteMessage[], login: LoginHandle): Promise<void> {
  const events: { type: string; sender: string; content: Record<string, unknown>; origin_server_ts: number }[] = [];
  const owners: { msg: RemoteMessage; partId: string; sender: string }[] = [];
  for (const msg of messages) {
    const sender = senderMxid(deps, msg.sender);
    // Converting registers the sender's ghost, which must exist before it can join.
    const parts = await convertRemoteMessage(deps, portal, msg, login);
    await ensureJoined(deps, portal, sender);
    // Replies inside the same batch have no event id yet: they are sent without the relation.
    for (const part of parts) {
      events.push({ type: part.type, sender, content: part.content, origin_server_ts: msg.timestamp });
      owners.push({ msg, partId: part.partId, sender });
    }
  }
  const ids = await deps.matrix.bot.batchSend(portal.roomId!, {
    forward: false,
    forward_if_no_messages: true,
    send_notification: false,
    events,
  });
  for (let i = 0; i < ids.length; i++) {
    const { msg, partId, sender } = owners[i]!;
    await deps.messages.insert(portal.key, {
      remoteId: msg.id,
      partId,
      eventId: ids[i]!,
      roomId: portal.roomId!,
      senderRemoteId: msg.sender.userId,
      senderMxid: sender,
      timestamp: msg.timestamp,
      threadRootId: msg.threadRoot ?? null,
    });
  }
}

/** Consecutive already-bridged messages (newest first) that mark where the bridge left off. */
const KNOWN_RUN_ENDS_CATCH_UP = 5;

/**
 * Catch-up after a (re)connect: messages the network pushed while this login was disconnected
 * (worker restart, lease takeover, dropped socket) are fetched newest first until a
 * run of already-bridged messages is met, then bridged oldest first like live messages. Bounded by
 * `backfillLimit`. Edits, deletes and reactions missed meanwhile are not in the history: they come
 * from the connector replaying the network's update log on connect, before it reports CONNECTED
 * (bridges/README.md, "Recovering what happened offline"), so its messages are bridged before this
 * runs and found known here.
 */
export async function catchUpPortal(deps: PortalDeps, portal: Portal, login: LoginHandle): Promise<void> {
  const client = login.client();
  if (!client?.fetchMessages || !portal.roomId || deps.backfillLimit <= 0) return;
  const missed: RemoteMessage[] = [];
  let before: RemoteMessage['id'] | undefined;
  // Messages bridged since the reconnect (live ones that overtook this task) can sit above the gap,
  // so one known message does not end the scan: a run of them does.
  let knownRun = 0;
  outer: while (missed.length < deps.backfillLimit) {
    const page = await client.fetchMessages({ chatId: portal.key.chatId, ...(before ? { before } : {}), limit: 20 });
    const known = await deps.messages.knownIds(
      portal.key,
      page.messages.map((m) => m.id),
    );
    for (const m of page.messages) {
      if (known.has(m.id)) {
        if (++knownRun >= KNOWN_RUN_ENDS_CATCH_UP) break outer;
        continue;
      }
      knownRun = 0;
      missed.push(m);
    }
    if (!page.hasMore || !page.messages.length) break;
    before = page.messages[page.messages.length - 1]!.id;
  }
  for (const m of missed.reverse()) await bridgeRemoteMessage(deps, portal, m, login);
  if (missed.length) deps.log.debug({ chat: portal.key.chatId, count: missed.length }, 'caught up on missed messages');
}
