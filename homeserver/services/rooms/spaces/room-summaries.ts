import { MatrixError } from '../../../matrix/errors.js';
import { parseRoomId } from '../../../matrix/ids.js';
import type { Requester } from '../../requester.js';
import type { Aliases } from '../aliases.js';
import type { RoomStateCache } from '../room-state-cache.js';
import { canPreview } from './room-preview.js';
import { roomSummary } from './room-summary.js';

/**
 * `GET /room_summary/{roomIdOrAlias}` (spec v1.15, MSC3266): the same summary /hierarchy lists,
 * under the same preview rules. A room the user may not preview is answered like an unknown one
 * (404), so the endpoint does not reveal which private rooms exist.
 */
export class RoomSummaries {
  constructor(
    private cache: RoomStateCache,
    private aliases: Aliases,
  ) {}

  async summary(requester: Requester, roomIdOrAlias: string) {
    const roomId = roomIdOrAlias.startsWith('#') ? (await this.aliases.resolve(roomIdOrAlias)).room_id : parseRoomId(roomIdOrAlias);
    const room = await this.cache.get(roomId);
    if (!room || !(await canPreview(room, requester.userId, (id) => this.cache.get(id))))
      throw MatrixError.notFound('Room not found or not visible to you');
    const membership = room.membershipOf(requester.userId);
    return { ...roomSummary(room), ...(membership ? { membership } : {}) };
  }
}
