import { MatrixError } from '../../../matrix/errors.js';
import { parseRoomId } from '../../../matrix/ids.js';
import type { Pdu } from '../../../matrix/pdu.js';
import type { Requester } from '../../requester.js';
import type { RoomState } from '../room-state.js';
import type { RoomStateCache } from '../room-state-cache.js';
import { decodeHierarchyToken, encodeHierarchyToken } from './hierarchy-token.js';
import { canPreview } from './room-preview.js';
import { roomSummary } from './room-summary.js';

export interface HierarchyQuery {
  from?: string;
  limit?: number;
  max_depth?: number;
  suggested_only?: boolean;
}

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 100;
// `order` of m.space.child: at most 50 printable ASCII characters, else ignored (spec).
const VALID_ORDER = /^[\x20-\x7E]{0,50}$/;

/**
 * `GET /rooms/{roomId}/hierarchy` over local rooms (no federation: a child this server does not
 * know is skipped). The walk is depth-first in the order the spec gives children (valid `order`
 * first, then the child event's origin_server_ts, then room id), as Synapse's: a stack, children
 * pushed in reverse. A room is listed when the requester may preview it (room-preview.ts), and only
 * listed rooms are descended into. Each room is visited once, so cycles end.
 */
export class SpaceHierarchy {
  constructor(private cache: RoomStateCache) {}

  async hierarchy(requester: Requester, roomIdText: string, q: HierarchyQuery) {
    const rootId = parseRoomId(roomIdText);
    const suggestedOnly = q.suggested_only === true;
    const maxDepth = q.max_depth ?? null;
    const limit = Math.min(q.limit ?? DEFAULT_LIMIT, MAX_LIMIT);
    let offset = 0;
    if (q.from !== undefined) {
      const cursor = decodeHierarchyToken(q.from);
      if (cursor.root !== rootId || cursor.suggestedOnly !== suggestedOnly || cursor.maxDepth !== maxDepth)
        throw MatrixError.invalidParam('suggested_only and max_depth cannot change on paginated requests');
      offset = cursor.offset;
    }
    const byId = (id: string) => this.cache.get(id);
    const root = await this.cache.get(rootId);
    if (!root || !(await canPreview(root, requester.userId, byId))) throw MatrixError.forbidden(`You are not allowed to view ${rootId}`);

    const rooms: Record<string, unknown>[] = [];
    let listed = 0;
    let more = false;
    const stack: { roomId: string; depth: number }[] = [{ roomId: rootId, depth: 0 }];
    const seen = new Set<string>();
    while (stack.length) {
      const { roomId, depth } = stack.pop()!;
      if (seen.has(roomId)) continue;
      seen.add(roomId);
      const room: RoomState | undefined = roomId === rootId ? root : await this.cache.get(roomId);
      if (!room || (room !== root && !(await canPreview(room, requester.userId, byId)))) continue;
      if (listed === offset + limit) {
        more = true;
        break;
      }
      const children = isSpace(room) ? childEvents(room, suggestedOnly) : [];
      if (listed++ >= offset) rooms.push({ ...roomSummary(room), children_state: children.map(stripped) });
      if (maxDepth === null || depth < maxDepth)
        for (const child of [...children].reverse()) stack.push({ roomId: child.state_key!, depth: depth + 1 });
    }
    return {
      rooms,
      ...(more ? { next_batch: encodeHierarchyToken({ root: rootId, suggestedOnly, maxDepth, offset: offset + limit }) } : {}),
    };
  }
}

function isSpace(room: RoomState): boolean {
  return room.get('m.room.create', '')?.content.type === 'm.space';
}

/** The room's valid m.space.child events (non-empty `via` of strings; redacted ones have none), in spec order. */
function childEvents(room: RoomState, suggestedOnly: boolean): Pdu[] {
  const children: Pdu[] = [];
  for (const { pdu } of room.state.values()) {
    if (pdu.type !== 'm.space.child' || !pdu.state_key) continue;
    const via = pdu.content.via;
    if (!Array.isArray(via) || !via.length || !via.every((v) => typeof v === 'string')) continue;
    if (suggestedOnly && pdu.content.suggested !== true) continue;
    children.push(pdu);
  }
  const orderOf = (p: Pdu) => {
    const o = p.content.order;
    return typeof o === 'string' && VALID_ORDER.test(o) ? o : undefined;
  };
  return children.sort((a, b) => {
    const oa = orderOf(a);
    const ob = orderOf(b);
    if (oa !== ob) {
      if (oa === undefined) return 1;
      if (ob === undefined) return -1;
      return oa < ob ? -1 : 1;
    }
    if (a.origin_server_ts !== b.origin_server_ts) return a.origin_server_ts - b.origin_server_ts;
    return a.state_key! < b.state_key! ? -1 : a.state_key! > b.state_key! ? 1 : 0;
  });
}

/** A stripped state event with origin_server_ts (spec: StrippedChildStateEvent). */
function stripped(pdu: Pdu) {
  return { type: pdu.type, state_key: pdu.state_key!, content: pdu.content, sender: pdu.sender, origin_server_ts: pdu.origin_server_ts };
}
