import type { LoginHandle } from '../login-directory.js';
import type { RemoteMessage } from '../network/remote-event.js';
import { toMatrix, type MatrixPart } from '../convert/to-matrix.js';
import type { Portal } from './portal.js';
import { mentionResolver, txnIdFor, type PortalDeps } from './portal-deps.js';
import { ensureJoined } from './room-creator.js';

/** The Matrix sender of a remote event: the ghost of the remote user (the login's own account has one too). */
export function senderMxid(deps: PortalDeps, sender: { userId: string }): string {
  return deps.ghosts.mxid(sender.userId as never);
}

/**
 * Converts a remote message into the Matrix events it becomes, with its reply/thread relation
 * mapped to Matrix event ids. Media is streamed into the homeserver as the sending ghost.
 */
export async function convertRemoteMessage(
  deps: PortalDeps,
  portal: Portal,
  msg: RemoteMessage,
  login: LoginHandle,
): Promise<MatrixPart[]> {
  const ghost = await deps.ghosts.ensure(msg.sender.userId, login.client());
  const parts = await toMatrix(msg.content, {
    mention: mentionResolver(deps, login),
    upload: (stream, mime, name, size) => ghost.uploadStream(stream, mime, name, size),
  });
  const replyTo = msg.replyTo ? await deps.messages.getFirst(portal.key, msg.replyTo) : undefined;
  const root = msg.threadRoot ? await deps.messages.getFirst(portal.key, msg.threadRoot) : undefined;
  for (const part of parts) {
    if (root) {
      part.content['m.relates_to'] = {
        rel_type: 'm.thread',
        event_id: root.eventId,
        is_falling_back: !replyTo,
        'm.in_reply_to': { event_id: (replyTo ?? root).eventId },
      };
    } else if (replyTo) {
      part.content['m.relates_to'] = { 'm.in_reply_to': { event_id: replyTo.eventId } };
    }
  }
  return parts;
}

/**
 * Remote message -> Matrix, once: a remote id already mapped is ignored (network echoes of our own
 * sends, redelivery after a reconnect, messages backfill already brought, a replay of a message
 * deleted since: its tombstone counts), and each part is sent
 * with a transaction id derived from the remote id, so a crash between sending and storing the
 * mapping cannot make a second copy.
 */
export async function bridgeRemoteMessage(deps: PortalDeps, portal: Portal, msg: RemoteMessage, login: LoginHandle): Promise<void> {
  if (await deps.messages.isKnown(portal.key, msg.id)) return;
  const parts = await convertRemoteMessage(deps, portal, msg, login);
  const sender = senderMxid(deps, msg.sender);
  await ensureJoined(deps, portal, sender);
  const intent = deps.matrix.intent(sender);
  for (const part of parts) {
    const txnId = txnIdFor('msg', portal.key.chatId, portal.key.receiver, msg.id, part.partId);
    const eventId = await intent.sendEvent(portal.roomId!, part.type, part.content, txnId, msg.timestamp);
    await deps.messages.insert(portal.key, {
      remoteId: msg.id,
      partId: part.partId,
      eventId,
      roomId: portal.roomId!,
      senderRemoteId: msg.sender.userId,
      senderMxid: sender,
      timestamp: msg.timestamp,
      threadRootId: msg.threadRoot ?? null,
    });
  }
}
