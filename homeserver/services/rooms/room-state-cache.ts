import type { Queryable } from '../../storage/db.js';
import type { Pdu } from '../../matrix/pdu.js';
import type { RoomVersionId } from '../../matrix/room-versions.js';
import { RoomState, stateMapKey, type StoredEvent } from './room-state.js';

/**
 * Current room state in memory, loaded from hs_room_state on first use and kept current by the
 * room writer. Bounded: the least recently used rooms are dropped and reloaded when touched again.
 */
export class RoomStateCache {
  private rooms = new Map<string, RoomState>();
  private loading = new Map<string, Promise<RoomState | undefined>>();

  constructor(
    private db: Queryable,
    private limit = 20_000,
  ) {}

  async get(roomId: string): Promise<RoomState | undefined> {
    const hit = this.rooms.get(roomId);
    if (hit) {
      this.rooms.delete(roomId); // re-insert: Map order is our LRU order
      this.rooms.set(roomId, hit);
      return hit;
    }
    let pending = this.loading.get(roomId);
    if (!pending) {
      pending = this.load(roomId).finally(() => this.loading.delete(roomId));
      this.loading.set(roomId, pending);
    }
    return pending;
  }

  put(state: RoomState): void {
    this.rooms.delete(state.roomId);
    this.rooms.set(state.roomId, state);
    while (this.rooms.size > this.limit) this.rooms.delete(this.rooms.keys().next().value!);
  }

  evict(roomId: string): void {
    this.rooms.delete(roomId);
  }

  private async load(roomId: string): Promise<RoomState | undefined> {
    const room = await this.db.query<{ room_version: string; head_event_id: string; head_depth: number }>(
      'SELECT room_version, head_event_id, head_depth FROM hs_rooms WHERE room_id = $1',
      [roomId],
    );
    const row = room.rows[0];
    if (!row) return undefined;
    const { rows } = await this.db.query<{ event_id: string; json: string }>(
      'SELECT e.event_id, e.json FROM hs_room_state s JOIN hs_events e ON e.event_id = s.event_id WHERE s.room_id = $1',
      [roomId],
    );
    const state = new Map<string, StoredEvent>();
    for (const r of rows) {
      const pdu = JSON.parse(r.json) as Pdu;
      state.set(stateMapKey(pdu.type, pdu.state_key!), { eventId: r.event_id, pdu });
    }
    const loaded = new RoomState(roomId, row.room_version as RoomVersionId, state, row.head_event_id, row.head_depth);
    // A writer may have put a fresher copy while we were loading; keep that one.
    const current = this.rooms.get(roomId);
    if (current) return current;
    this.put(loaded);
    return loaded;
  }
}
