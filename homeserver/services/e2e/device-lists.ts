import { MatrixError } from '../../matrix/errors.js';
import type { Logger } from '../../runtime/logger.js';
import type { PubSub } from '../../runtime/ports.js';
import type { Db, Queryable, Tx } from '../../storage/db.js';
import { STREAM_TOPIC, type StreamSource, type StreamWakeUp } from '../sync/stream-source.js';
import { advanceStreamHead, lockStreamHead, streamHead } from './common.js';

/** The `device_lists` section of /sync and the body of GET /keys/changes. */
export interface DeviceListsSection {
  changed: string[];
  left: string[];
}

/** The two stream positions device lists depend on (the keys match the sync token's stream names). */
export interface DeviceListPositions {
  /** Room events (hs_events.stream_ordering): membership changes. */
  events: number;
  /** Device list changes (hs_e2e_device_list_changes.position): key uploads, device deletions, signatures. */
  device_lists: number;
}

export interface DeviceListChange {
  /** The user whose keys changed (reported in `changed`). */
  userId: string;
  /** Only this user is told (a signature made on someone else's key); default: everyone sharing a room plus userId. */
  audience?: string;
}

/**
 * Parses the opaque token of GET /keys/changes into a device-list position. For now the token is
 * the decimal device_lists position; sync will align this with its token format.
 */
export function parseDeviceListPosition(token: string): number {
  if (typeof token !== 'string' || !/^\d{1,15}$/.test(token)) throw MatrixError.invalidParam('Invalid stream token');
  return Number(token);
}

const SHARED_WITH = `SELECT DISTINCT b.user_id FROM hs_memberships a
  JOIN hs_memberships b ON b.room_id = a.room_id AND b.membership = 'join'
  WHERE a.user_id = $1 AND a.membership = 'join'`;

/**
 * Device list tracking. A change row says "re-query this user's keys"; who needs to hear it is
 * decided at read time from current memberships, so a room join never has to rewrite change rows.
 */
export class DeviceLists {
  constructor(
    private db: Db,
    private pubsub: PubSub,
    private log: Logger,
  ) {}

  /**
   * Appends change rows inside `tx` (taking the stream head lock: call it last in the transaction)
   * and, after commit, wakes the syncs of everyone who must hear about it.
   */
  async recordChanges(tx: Tx, changes: DeviceListChange[]): Promise<void> {
    if (!changes.length) return;
    await lockStreamHead(tx, 'device_lists');
    const { rows } = await tx.query<{ position: number }>(
      `INSERT INTO hs_e2e_device_list_changes (user_id, audience, ts)
       SELECT c.user_id, c.audience, $3 FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS c(user_id, audience, ord)
       ORDER BY c.ord RETURNING position`,
      [changes.map((c) => c.userId), changes.map((c) => c.audience ?? null), Date.now()],
    );
    const position = Math.max(...rows.map((r) => r.position));
    await advanceStreamHead(tx, 'device_lists', position);
    tx.afterCommit(() => {
      this.wake(position, changes).catch((err) => this.log.warn({ err }, 'device list wake-up failed'));
    });
  }

  private async wake(position: number, changes: DeviceListChange[]): Promise<void> {
    const users = new Set<string>();
    for (const c of changes) {
      if (c.audience) {
        users.add(c.audience);
        continue;
      }
      users.add(c.userId);
      for (const u of await this.usersSharingRoomWith(c.userId)) users.add(u);
    }
    const wake: StreamWakeUp = { stream: 'device_lists', position, userIds: [...users] };
    await this.pubsub.publish(STREAM_TOPIC, wake);
  }

  /** Everyone currently joined to at least one room the user is joined to (the user included if joined anywhere). */
  async usersSharingRoomWith(userId: string, q: Queryable = this.db): Promise<string[]> {
    const { rows } = await q.query<{ user_id: string }>(SHARED_WITH, [userId]);
    return rows.map((r) => r.user_id);
  }

  currentPosition(): Promise<number> {
    return streamHead(this.db, 'device_lists');
  }

  /**
   * Users whose keys changed in (from, to] that `userId` must re-query: themselves, anyone
   * currently sharing a joined room with them, and changes addressed to them alone.
   */
  async keyChanges(userId: string, from: number, to: number): Promise<string[]> {
    if (to <= from) return [];
    const { rows } = await this.db.query<{ user_id: string }>(
      `SELECT DISTINCT c.user_id FROM hs_e2e_device_list_changes c
       WHERE c.position > $2 AND c.position <= $3
         AND (c.audience = $1 OR (c.audience IS NULL AND (c.user_id = $1 OR c.user_id IN (${SHARED_WITH}))))`,
      [userId, from, to],
    );
    return rows.map((r) => r.user_id).sort();
  }

  /**
   * The full `device_lists` sync section between two positions (from exclusive, to inclusive).
   *
   * `changed` covers:
   *  - key changes (device keys uploaded/changed, devices deleted, cross-signing keys, signatures)
   *    of users currently sharing a joined room with the user, of the user themselves, and
   *    signature changes addressed to the user;
   *  - every current member of a room the user joined in the range (they must start tracking them);
   *  - users who joined a room the user is in during the range (and still share a room).
   * `left` covers users who shared a room with the user and no longer share any joined room,
   * because either of them left (leave, kick, ban) in the range.
   *
   * Not covered: whether rooms are encrypted (every room counts, as if all were), and a user who
   * changed keys and then stopped sharing rooms in the same range appears in `left` only.
   * An initial sync (both positions 0) has no section: clients query every user they track.
   */
  async section(userId: string, from: DeviceListPositions, to: DeviceListPositions): Promise<DeviceListsSection> {
    if (from.events === 0 && from.device_lists === 0) return { changed: [], left: [] };
    const changed = new Set(await this.keyChanges(userId, from.device_lists, to.device_lists));
    const joinCandidates = new Set<string>();
    const leaveCandidates = new Set<string>();

    if (to.events > from.events) {
      const { rows } = await this.db.query<{ room_id: string; state_key: string; membership: string | null; prev: string | null }>(
        `SELECT e.room_id, e.state_key,
                (e.json::jsonb) -> 'content' ->> 'membership' AS membership,
                (e.unsigned::jsonb) -> 'prev_content' ->> 'membership' AS prev
         FROM hs_events e
         WHERE e.type = 'm.room.member' AND e.stream_ordering > $2 AND e.stream_ordering <= $3
           AND e.room_id IN (SELECT room_id FROM hs_memberships WHERE user_id = $1)
         ORDER BY e.stream_ordering`,
        [userId, from.events, to.events],
      );
      // Net transition per (room, member) over the range: joined at the start vs joined at the end.
      const net = new Map<string, { roomId: string; member: string; wasJoined: boolean; isJoined: boolean }>();
      for (const r of rows) {
        const key = `${r.room_id}\u0000${r.state_key}`;
        const entry = net.get(key) ?? { roomId: r.room_id, member: r.state_key, wasJoined: r.prev === 'join', isJoined: false };
        entry.isJoined = r.membership === 'join';
        net.set(key, entry);
      }
      const joinedRooms: string[] = [];
      const leftRooms: string[] = [];
      for (const t of net.values()) {
        if (t.wasJoined === t.isJoined) continue;
        if (t.member === userId) (t.isJoined ? joinedRooms : leftRooms).push(t.roomId);
        else (t.isJoined ? joinCandidates : leaveCandidates).add(t.member);
      }
      if (joinedRooms.length || leftRooms.length) {
        const members = await this.db.query<{ room_id: string; user_id: string }>(
          "SELECT room_id, user_id FROM hs_memberships WHERE room_id = ANY($1) AND membership = 'join'",
          [[...joinedRooms, ...leftRooms]],
        );
        const joinedSet = new Set(joinedRooms);
        for (const m of members.rows) (joinedSet.has(m.room_id) ? joinCandidates : leaveCandidates).add(m.user_id);
      }
    }

    const left: string[] = [];
    const candidates = [...new Set([...joinCandidates, ...leaveCandidates])].filter((u) => u !== userId);
    if (candidates.length) {
      const { rows } = await this.db.query<{ user_id: string }>(`SELECT user_id FROM (${SHARED_WITH}) s WHERE user_id = ANY($2)`, [
        userId,
        candidates,
      ]);
      const shared = new Set(rows.map((r) => r.user_id));
      for (const u of candidates) {
        if (shared.has(u)) {
          if (joinCandidates.has(u)) changed.add(u);
        } else if (leaveCandidates.has(u)) {
          left.push(u);
          changed.delete(u);
        }
      }
    }
    return { changed: [...changed].sort(), left: left.sort() };
  }

  /**
   * The `device_lists` stream for sync's generic loop. It sees its own positions only, so it
   * reports key changes; membership-driven changes need the events position too, which
   * {@link DeviceLists.section} takes (sync should prefer it).
   */
  readonly stream: StreamSource<DeviceListsSection> = {
    name: 'device_lists',
    currentPosition: () => this.currentPosition(),
    sectionFor: async (userId, _deviceId, from, to) => {
      if (from === 0) return undefined;
      const changed = await this.keyChanges(userId, from, to);
      return changed.length ? { changed, left: [] } : undefined;
    },
  };
}
