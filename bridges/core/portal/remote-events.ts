import type { LoginHandle } from '../login-directory.js';
import { editContent, toMatrix } from '../convert/to-matrix.js';
import type { RemoteEvent } from '../network/remote-event.js';
import { backfillPortal } from './backfill.js';
import type { Portal } from './portal.js';
import { mentionResolver, txnIdFor, type PortalDeps } from './portal-deps.js';
import { ensureJoined, ensureRoom } from './room-creator.js';
import { bridgeRemoteMessage, senderMxid } from './remote-message.js';

/**
 * Applies one remote event to the portal's Matrix room. Runs on the portal's serial queue. The
 * room is created on the first event that needs one (then backfilled); events that only make
 * sense for an existing room (typing, receipts, deletes) are dropped when there is none.
 */
export async function applyRemoteEvent(deps: PortalDeps, portal: Portal, ev: RemoteEvent, login: LoginHandle): Promise<void> {
  const needsRoom = ev.type === 'message' || ev.type === 'chat_info_change' || ev.type === 'member_change';
  if (needsRoom || portal.roomId) {
    if (ev.type === 'chat_delete' && !portal.roomId) return;
    const created = await ensureRoom(deps, portal, login);
    if (created) await backfillPortal(deps, portal, login);
  }
  if (!portal.roomId) return;
  const roomId = portal.roomId;
  const sender = senderMxid(deps, ev.sender);

  switch (ev.type) {
    case 'message':
      return bridgeRemoteMessage(deps, portal, ev, login);

    case 'edit': {
      const target = await deps.messages.getFirst(portal.key, ev.targetId);
      // Not newer than the last edit applied: a replay (the network's update log, a shared portal's second login).
      if (!target || ev.timestamp <= target.lastEditTs) return;
      await deps.ghosts.ensure(ev.sender.userId, login.client());
      const [part] = await toMatrix(ev.content, {
        mention: mentionResolver(deps, login),
        upload: (s, mime, name, size) => deps.matrix.intent(sender).uploadStream(s, mime, name, size),
      });
      if (!part) return;
      await ensureJoined(deps, portal, sender);
      await deps.matrix
        .intent(sender)
        .sendEvent(
          roomId,
          'm.room.message',
          editContent(target.eventId, part.content),
          txnIdFor('edit', ev.targetId, ev.timestamp),
          ev.timestamp,
        );
      await deps.messages.recordRemoteEdit(portal.key, ev.targetId, ev.timestamp);
      return;
    }

    case 'delete': {
      // Parts of a message not yet deleted: a replayed delete finds none and does nothing.
      const parts = await deps.messages.getParts(portal.key, ev.targetId);
      for (const part of parts) {
        // The author's ghost redacts its own message; someone else's needs the bot's power.
        const by = part.senderMxid === sender ? deps.matrix.intent(sender) : deps.matrix.bot;
        await by.redact(roomId, part.eventId, txnIdFor('redact', part.eventId));
      }
      if (parts.length) await deps.messages.deleteMessage(portal.key, ev.targetId, ev.timestamp);
      return;
    }

    case 'reaction': {
      const target = await deps.messages.getFirst(portal.key, ev.targetId);
      if (!target) return;
      // Shown already, or removed after this reaction was made (a replay of the older one): nothing to do.
      const known = await deps.reactions.getWithTombstone(portal.key, ev.targetId, ev.sender.userId, ev.key);
      if (known && (known.removedTs === null || known.removedTs >= ev.timestamp)) return;
      await deps.ghosts.ensure(ev.sender.userId, login.client());
      await ensureJoined(deps, portal, sender);
      const eventId = await deps.matrix
        .intent(sender)
        .sendEvent(
          roomId,
          'm.reaction',
          { 'm.relates_to': { rel_type: 'm.annotation', event_id: target.eventId, key: ev.key } },
          txnIdFor('react', ev.targetId, ev.sender.userId, ev.key, ev.timestamp),
          ev.timestamp,
        );
      await deps.reactions.insert(portal.key, {
        messageRemoteId: ev.targetId,
        senderRemoteId: ev.sender.userId,
        key: ev.key,
        reactionRemoteId: ev.reactionId ?? null,
        eventId,
        timestamp: ev.timestamp,
      });
      return;
    }

    case 'reaction_remove': {
      const r = await deps.reactions.get(portal.key, ev.targetId, ev.sender.userId, ev.key);
      // A removal older than the reaction shown now is a replay: that reaction came back later.
      if (!r || r.timestamp > ev.timestamp) return;
      await deps.matrix.intent(sender).redact(roomId, r.eventId, txnIdFor('unreact', r.eventId));
      await deps.reactions.markRemoved(portal.key, r, ev.timestamp);
      return;
    }

    case 'read_receipt': {
      // The Matrix user's own reads elsewhere would need double puppeting; a ghost's read is its m.read receipt.
      if (ev.sender.isFromMe) return;
      const target = await deps.messages.getFirst(portal.key, ev.upToId);
      if (!target) return;
      await ensureJoined(deps, portal, sender);
      await deps.matrix.intent(sender).markRead(roomId, target.eventId);
      return;
    }

    case 'typing':
      if (ev.sender.isFromMe) return;
      await ensureJoined(deps, portal, sender);
      await deps.matrix.intent(sender).setTyping(roomId, ev.timeoutMs > 0, ev.timeoutMs);
      return;

    case 'chat_info_change': {
      const r = portal.record;
      const bot = deps.matrix.bot;
      if (ev.change.name !== undefined && ev.change.name !== r.name) {
        await bot.sendState(roomId, 'm.room.name', '', { name: ev.change.name }, ev.timestamp);
        r.name = ev.change.name;
      }
      if (ev.change.topic !== undefined && ev.change.topic !== r.topic) {
        await bot.sendState(roomId, 'm.room.topic', '', { topic: ev.change.topic }, ev.timestamp);
        r.topic = ev.change.topic;
      }
      if (ev.change.avatar && ev.change.avatar.avatarId !== r.avatarId) {
        const mxc = await bot.uploadStream(await ev.change.avatar.open(), ev.change.avatar.mimeType, 'avatar');
        await bot.sendState(roomId, 'm.room.avatar', '', { url: mxc }, ev.timestamp);
        r.avatarId = ev.change.avatar.avatarId;
        r.avatarMxc = mxc;
      }
      await deps.portals.update(r);
      return;
    }

    case 'member_change':
      for (const m of ev.members) {
        const mxid = deps.ghosts.mxid(m.userId);
        if (m.membership === 'join') {
          await deps.ghosts.ensure(m.userId, login.client());
          await ensureJoined(deps, portal, mxid);
        } else if (portal.joined.has(mxid) || m.membership === 'ban') {
          if (m.membership === 'ban') await deps.matrix.bot.ban(roomId, mxid);
          else
            await deps.matrix
              .intent(mxid)
              .leave(roomId)
              .catch(() => undefined);
          portal.joined.delete(mxid);
        }
      }
      return;

    case 'chat_delete':
      return deletePortal(deps, portal);
  }
}

/** The chat is gone on the network: everyone is removed from the room and the portal forgotten. */
async function deletePortal(deps: PortalDeps, portal: Portal): Promise<void> {
  const roomId = portal.roomId!;
  const bot = deps.matrix.bot;
  for (const member of await bot.joinedMembers(roomId).catch(() => [] as string[])) {
    if (member === bot.userId) continue;
    await bot.kick(roomId, member, 'The chat was deleted').catch((err) => deps.log.debug({ err }, 'kick failed'));
  }
  await bot.leave(roomId).catch(() => undefined);
  await deps.messages.deletePortal(portal.key);
  await deps.reactions.deletePortal(portal.key);
  await deps.portals.delete(portal.key);
  portal.record.roomId = null;
  portal.joined.clear();
}
