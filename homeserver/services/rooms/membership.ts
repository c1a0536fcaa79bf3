import { MatrixError } from '../../matrix/errors.js';
import { parseRoomId, parseUserId, serverNameOf } from '../../matrix/ids.js';
import type { Requester } from '../requester.js';
import type { Aliases } from './aliases.js';
import { withProfile } from './create-room.js';
import type { RoomsContext } from './rooms-context.js';
import type { AppserviceQueries } from '../appservices/queries.js';

/**
 * Membership changes (spec: "Room membership"). Each one is a single m.room.member event; the room
 * version's auth rules decide whether it is allowed (bans, join rules, power levels), so this
 * module only shapes the content and resolves aliases.
 */
export class Membership {
  constructor(
    private ctx: RoomsContext,
    private aliases: Aliases,
    /** Asks the appservice holding an unknown invitee's namespace (it may create the user meanwhile). */
    private queries?: AppserviceQueries,
  ) {}

  async join(requester: Requester, roomIdOrAlias: string, reason?: string): Promise<string> {
    const roomId = roomIdOrAlias.startsWith('#') ? (await this.aliases.resolve(roomIdOrAlias)).room_id : parseRoomId(roomIdOrAlias);
    const room = await this.ctx.cache.get(roomId);
    if (!room) throw MatrixError.notFound('No known servers to join this room through');
    const profile = await this.ctx.accounts.getUser(requester.userId);
    await this.change(requester, roomId, requester.userId, withProfile({ membership: 'join' }, profile), reason);
    return roomId;
  }

  async invite(requester: Requester, roomId: string, target: string, reason?: string, isDirect = false) {
    parseUserId(target);
    const lookup = () => this.ctx.accounts.getUser(target);
    if (serverNameOf(target) === this.ctx.serverName && !(await (this.queries ? this.queries.user(target, lookup) : lookup())))
      throw MatrixError.notFound(`Unknown user ${target}`);
    const current = (await this.room(roomId)).membershipOf(target);
    if (current === 'join') throw MatrixError.forbidden(`${target} is already in the room.`);
    if (current === 'ban') throw MatrixError.forbidden(`${target} is banned from the room`);
    await this.change(requester, roomId, target, { membership: 'invite', ...(isDirect ? { is_direct: true } : {}) }, reason);
  }

  leave(requester: Requester, roomId: string, reason?: string) {
    return this.change(requester, roomId, requester.userId, { membership: 'leave' }, reason);
  }

  async kick(requester: Requester, roomId: string, target: string, reason?: string) {
    parseUserId(target);
    const current = (await this.room(roomId)).membershipOf(target);
    if (current !== 'join' && current !== 'invite' && current !== 'knock') throw MatrixError.forbidden(`${target} is not in the room`);
    await this.change(requester, roomId, target, { membership: 'leave' }, reason);
  }

  ban(requester: Requester, roomId: string, target: string, reason?: string) {
    parseUserId(target);
    return this.change(requester, roomId, target, { membership: 'ban' }, reason);
  }

  async unban(requester: Requester, roomId: string, target: string, reason?: string) {
    parseUserId(target);
    if ((await this.room(roomId)).membershipOf(target) !== 'ban') throw MatrixError.forbidden(`${target} is not banned`);
    await this.change(requester, roomId, target, { membership: 'leave' }, reason);
  }

  async forget(requester: Requester, roomIdText: string): Promise<void> {
    const roomId = parseRoomId(roomIdText);
    const { rows } = await this.ctx.db.query<{ membership: string }>(
      'SELECT membership FROM hs_memberships WHERE room_id = $1 AND user_id = $2',
      [roomId, requester.userId],
    );
    const membership = rows[0]?.membership;
    if (membership === 'join' || membership === 'invite' || membership === 'knock')
      throw new MatrixError('M_UNKNOWN', 'You must leave the room before forgetting it', 400);
    if (!membership) throw MatrixError.notFound('You have never been in this room');
    await this.ctx.db.query('UPDATE hs_memberships SET forgotten = true WHERE room_id = $1 AND user_id = $2', [roomId, requester.userId]);
  }

  private async room(roomIdText: string) {
    const room = await this.ctx.cache.get(parseRoomId(roomIdText));
    if (!room) throw MatrixError.notFound('Unknown room');
    return room;
  }

  private async change(requester: Requester, roomIdText: string, target: string, content: Record<string, unknown>, reason?: string) {
    const roomId = parseRoomId(roomIdText);
    if (reason !== undefined) content.reason = reason;
    const [event] = await this.ctx.input.submit(roomId, [{ type: 'm.room.member', state_key: target, content, sender: requester.userId }]);
    return event!.eventId;
  }
}
