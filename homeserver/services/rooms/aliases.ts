import { MatrixError } from '../../matrix/errors.js';
import { parseRoomAlias, parseRoomId, serverNameOf } from '../../matrix/ids.js';
import { userLevel, eventLevelRequired } from '../../matrix/power-levels.js';
import type { Requester } from '../requester.js';
import type { RoomsContext } from './rooms-context.js';
import type { AppserviceRegistry } from '../appservices/registry-port.js';
import type { AppserviceQueries } from '../appservices/queries.js';

/**
 * Room aliases (spec: "Room aliases", /directory/room/{roomAlias}). Create and delete share the
 * checks here so the two can never drift apart.
 */
export class Aliases {
  constructor(
    private ctx: RoomsContext,
    private appservices?: AppserviceRegistry,
    /** Asks the appservice holding an unknown alias's namespace (it may create the room meanwhile). */
    private queries?: AppserviceQueries,
  ) {}

  /** M_EXCLUSIVE when an appservice other than the requester's holds the alias in an exclusive namespace. */
  private checkExclusive(requester: Requester, alias: string): void {
    const owner = this.appservices?.exclusiveOwnerOfAlias(alias);
    if (owner && owner.id !== requester.appserviceId)
      throw new MatrixError('M_EXCLUSIVE', 'Room alias is reserved by an application service');
  }

  async resolve(aliasText: string): Promise<{ room_id: string; servers: string[] }> {
    const alias = parseRoomAlias(aliasText);
    const lookup = async () =>
      (await this.ctx.db.query<{ room_id: string }>('SELECT room_id FROM hs_room_aliases WHERE alias = $1', [alias])).rows[0]?.room_id;
    const roomId = this.queries ? await this.queries.alias(alias, lookup) : await lookup();
    if (!roomId) throw MatrixError.notFound(`Room alias ${alias} not found`);
    return { room_id: roomId, servers: [this.ctx.serverName] };
  }

  async checkAvailable(requester: Requester, aliasText: string): Promise<string> {
    const alias = parseRoomAlias(aliasText);
    if (serverNameOf(alias) !== this.ctx.serverName) throw MatrixError.invalidParam('Room alias must be on this server');
    this.checkExclusive(requester, alias);
    const { rows } = await this.ctx.db.query('SELECT 1 FROM hs_room_aliases WHERE alias = $1', [alias]);
    if (rows.length) throw new MatrixError('M_ROOM_IN_USE', 'Room alias already taken');
    return alias;
  }

  async create(requester: Requester, aliasText: string, roomIdText: string, opts: { skipMembershipCheck?: boolean } = {}) {
    const alias = parseRoomAlias(aliasText);
    const roomId = parseRoomId(roomIdText);
    if (serverNameOf(alias) !== this.ctx.serverName) throw MatrixError.invalidParam('Room alias must be on this server');
    this.checkExclusive(requester, alias);
    const room = await this.ctx.cache.get(roomId);
    if (!room) throw MatrixError.notFound('Unknown room');
    if (!opts.skipMembershipCheck && !requester.isAdmin && room.membershipOf(requester.userId) !== 'join')
      throw MatrixError.forbidden('You must be joined to the room to give it an alias');
    const r = await this.ctx.db.query(
      'INSERT INTO hs_room_aliases (alias, room_id, creator, created_ts) VALUES ($1,$2,$3,$4) ON CONFLICT DO NOTHING',
      [alias, roomId, requester.userId, Date.now()],
    );
    // The spec gives 409 for an alias that exists (errcode M_UNKNOWN, as Synapse sends).
    if (r.rowCount === 0) throw new MatrixError('M_UNKNOWN', `Room alias ${alias} already exists`, 409);
  }

  async delete(requester: Requester, aliasText: string): Promise<void> {
    const alias = parseRoomAlias(aliasText);
    const { rows } = await this.ctx.db.query<{ room_id: string; creator: string }>(
      'SELECT room_id, creator FROM hs_room_aliases WHERE alias = $1',
      [alias],
    );
    const row = rows[0];
    if (!row) throw MatrixError.notFound(`Room alias ${alias} not found`);
    this.checkExclusive(requester, alias);
    if (row.creator !== requester.userId && !requester.isAdmin) {
      // Room moderators who may change the canonical alias may also remove aliases.
      const room = await this.ctx.cache.get(row.room_id);
      const pl = room?.get('m.room.power_levels', '')?.content;
      const create = room?.get('m.room.create', '');
      if (!room || !create || userLevel(pl, requester.userId, create) < eventLevelRequired(pl, 'm.room.canonical_alias', true))
        throw MatrixError.forbidden('You may not delete this alias');
    }
    await this.ctx.db.query('DELETE FROM hs_room_aliases WHERE alias = $1', [alias]);
  }

  async listForRoom(roomId: string): Promise<string[]> {
    const { rows } = await this.ctx.db.query<{ alias: string }>('SELECT alias FROM hs_room_aliases WHERE room_id = $1 ORDER BY alias', [
      roomId,
    ]);
    return rows.map((r) => r.alias);
  }
}
