import type { LoginHandle } from '../login-directory.js';
import { fromMatrix, UnsupportedContent } from '../convert/from-matrix.js';
import { openMxc } from '../matrix/media-download.js';
import type { MatrixEvent } from '../matrix/transaction-receiver.js';
import type { NetworkClient } from '../network/network-client.js';
import { NetworkError } from '../network/network-client.js';
import type { Portal } from './portal.js';
import { pillResolver, type PortalDeps } from './portal-deps.js';

interface Relates {
  rel_type?: string;
  event_id?: string;
  key?: string;
  'm.in_reply_to'?: { event_id?: string };
}

/**
 * Sends one Matrix event (from the outbox) to the network through the sender's login, with every
 * Matrix event id mapped to its remote id, and stores the result mapping so the network's later
 * echo, edits, reactions and deletes find it. Runs on the portal's queue. Throws NetworkError
 * (retryable or not) or UnsupportedContent (never retried).
 */
export async function applyMatrixEvent(deps: PortalDeps, portal: Portal, ev: MatrixEvent, login: LoginHandle): Promise<void> {
  const client = login.client();
  if (!client) throw new NetworkError('no_client', 'The login is not connected in this worker', true);
  const base = { portal: portal.key, eventId: ev.event_id, sender: ev.sender, timestamp: ev.origin_server_ts };
  const relates = (ev.content['m.relates_to'] ?? {}) as Relates;

  if (ev.type === 'm.room.redaction') return redaction(deps, portal, ev, client, base);

  if (ev.type === 'm.reaction') {
    if (relates.rel_type !== 'm.annotation' || !relates.event_id || typeof relates.key !== 'string') return;
    const target = await deps.messages.getByEventId(relates.event_id);
    if (!target) throw new UnsupportedContent('The reacted-to message is not bridged');
    if (await deps.reactions.get(portal.key, target.remoteId, login.remoteUserId, relates.key)) return;
    if (!client.handleMatrixReaction) throw new UnsupportedContent('Reactions are not supported on this network');
    const r = await client.handleMatrixReaction({ ...base, targetId: target.remoteId, key: relates.key });
    await deps.reactions.insert(portal.key, {
      messageRemoteId: target.remoteId,
      senderRemoteId: login.remoteUserId,
      key: relates.key,
      reactionRemoteId: r.reactionId ?? null,
      eventId: ev.event_id,
      timestamp: ev.origin_server_ts,
    });
    return;
  }

  const convertDeps = { pill: pillResolver(deps, login), openMxc: async (mxc: string) => (await openMxc(deps.matrix.cs, mxc)).stream };

  if (relates.rel_type === 'm.replace' && relates.event_id) {
    const target = await deps.messages.getByEventId(relates.event_id);
    if (!target) throw new UnsupportedContent('The edited message is not bridged');
    if (!client.handleMatrixEdit) throw new UnsupportedContent('Edits are not supported on this network');
    const newContent = (ev.content['m.new_content'] ?? ev.content) as Record<string, unknown>;
    await client.handleMatrixEdit({ ...base, targetId: target.remoteId, content: fromMatrix(ev.type, newContent, convertDeps) });
    await deps.messages.incrementEdits(portal.key, target.remoteId);
    return;
  }

  // A message: already sent (an outbox retry after the result was stored) means done.
  if (await deps.messages.getByEventId(ev.event_id)) return;
  const content = fromMatrix(ev.type, ev.content, convertDeps);
  const replyEventId = relates['m.in_reply_to']?.event_id;
  const replyTo = replyEventId ? (await deps.messages.getByEventId(replyEventId))?.remoteId : undefined;
  const threadRoot =
    relates.rel_type === 'm.thread' && relates.event_id ? (await deps.messages.getByEventId(relates.event_id))?.remoteId : undefined;
  const res = await client.handleMatrixMessage({
    ...base,
    content,
    ...(replyTo ? { replyTo } : {}),
    ...(threadRoot ? { threadRoot } : {}),
    idempotencyKey: ev.event_id,
  });
  await deps.messages.insert(portal.key, {
    remoteId: res.remoteId,
    partId: '',
    eventId: ev.event_id,
    roomId: ev.room_id,
    senderRemoteId: login.remoteUserId,
    senderMxid: ev.sender,
    timestamp: res.timestamp ?? ev.origin_server_ts,
    threadRootId: threadRoot ?? null,
  });
}

async function redaction(
  deps: PortalDeps,
  portal: Portal,
  ev: MatrixEvent,
  client: NetworkClient,
  base: { portal: Portal['key']; eventId: string; sender: string; timestamp: number },
): Promise<void> {
  const redacts = ev.redacts ?? (ev.content.redacts as string | undefined);
  if (!redacts) return;
  if (!client.handleMatrixRedaction) throw new UnsupportedContent('Deleting is not supported on this network');
  const message = await deps.messages.getByEventId(redacts);
  if (message) {
    // A tombstone: the network deleted it already (its redaction is on the way or done).
    if (message.deletedTs !== null) return;
    await client.handleMatrixRedaction({ ...base, target: { kind: 'message', id: message.remoteId } });
    await deps.messages.deleteMessage(portal.key, message.remoteId);
    return;
  }
  const reaction = await deps.reactions.getByEventId(redacts);
  if (reaction) {
    await client.handleMatrixRedaction({
      ...base,
      target: {
        kind: 'reaction',
        messageId: reaction.messageRemoteId,
        key: reaction.key,
        ...(reaction.reactionRemoteId ? { reactionId: reaction.reactionRemoteId } : {}),
      },
    });
    await deps.reactions.delete(portal.key, reaction);
  }
}
