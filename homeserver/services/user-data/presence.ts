import { MatrixError } from '../../matrix/errors.js';
import type { Logger } from '../../runtime/logger.js';
import type { PubSub } from '../../runtime/ports.js';
import type { Db, Queryable } from '../../storage/db.js';
import type { StreamSource } from '../sync/stream-source.js';
import { PresenceSweeper } from './presence-sweeper.js';
import { activeWindowMs, type PresenceTimeouts } from './presence-timeouts.js';
import { PRESENCE_STREAM, wakeAfterCommit, withStreamWrite } from './streams.js';

export { LAST_ACTIVE_GRANULARITY_MS, type PresenceTimeouts } from './presence-timeouts.js';

export type PresenceState = 'online' | 'unavailable' | 'offline';

export interface PresenceContent {
  presence: PresenceState;
  last_active_ago?: number;
  status_msg?: string;
  currently_active?: boolean;
  displayname?: string;
  avatar_url?: string;
}

export interface PresenceEvent {
  type: 'm.presence';
  sender: string;
  content: PresenceContent;
}

/** The `presence` part of a sync. */
export interface PresenceSection {
  events: PresenceEvent[];
}

interface PresenceRow {
  user_id: string;
  state: PresenceState;
  status_msg: string | null;
  last_active_ts: number;
  currently_active: boolean;
  last_sync_ts: number;
}

type NextRow = Omit<PresenceRow, 'user_id'>;

const SHARES_A_ROOM = `EXISTS (SELECT 1 FROM hs_memberships a JOIN hs_memberships b ON b.room_id = a.room_id
  WHERE a.user_id = $1 AND a.membership = 'join' AND b.user_id = $2 AND b.membership = 'join')`;

/**
 * Presence (spec: "Presence"): a user's state, status message and last activity, visible to the
 * users they share a room with. With `presence.enabled: false` nothing is recorded and everyone
 * reads as offline (Synapse does the same).
 *
 * Two clocks per user, both in hs_presence (the truth for every process):
 * - `last_active_ts` — the user did something: PUT presence online, sent an event (bumpActive), or
 *   a client came back online through sync. Syncing by itself is NOT activity, so a client left
 *   open syncing in the background lets its user go idle (→ unavailable after idle_after_ms).
 * - `last_sync_ts` — a client is there: a sync with set_presence online/unavailable (pushed forward
 *   by the long-poll timeout, since the user is present for the whole poll) or a PUT. With neither
 *   clock moving for offline_after_ms the user goes offline.
 * The transitions are made by PresenceSweeper (presence-sweeper.ts) as stream entries.
 */
export class Presence implements StreamSource<PresenceSection> {
  readonly name = PRESENCE_STREAM;
  /** Per-process throttle of bumpActive: the last time each user's activity was checked. */
  private readonly recentActivity = new Map<string, number>();
  /** The idle timers; started by the composition root when presence is enabled. */
  readonly sweeper: PresenceSweeper;

  constructor(
    private db: Db,
    private pubsub: PubSub,
    private log: Logger,
    readonly enabled: boolean,
    private userExists: (userId: string) => Promise<boolean>,
    readonly timeouts: PresenceTimeouts = { offlineAfterMs: 30_000, idleAfterMs: 300_000 },
  ) {
    this.sweeper = new PresenceSweeper({ db, pubsub, log, timeouts });
  }

  /** `GET /presence/{userId}/status`: yourself or someone you share a room with. */
  async get(requesterId: string, userId: string): Promise<PresenceContent> {
    if (!(await this.userExists(userId))) throw MatrixError.notFound('Unknown user');
    if (userId !== requesterId) {
      const { rows } = await this.db.query<{ ok: boolean }>(`SELECT ${SHARES_A_ROOM} AS ok`, [requesterId, userId]);
      if (!rows[0]!.ok) throw MatrixError.forbidden('You are not allowed to see their presence');
    }
    if (!this.enabled) return { presence: 'offline' };
    const row = await this.row(userId);
    if (!row) return { presence: 'offline' };
    return contentOf(row, Date.now());
  }

  /** `PUT /presence/{userId}/status`: sets the state and replaces the status message. A PUT shows a client is there. */
  async set(userId: string, state: PresenceState, statusMsg: string | null): Promise<void> {
    if (!this.enabled) return;
    const now = Date.now();
    await this.write(userId, (cur) => ({
      state,
      status_msg: statusMsg,
      last_active_ts: state === 'online' ? now : (cur?.last_active_ts ?? now),
      currently_active: state === 'online',
      last_sync_ts: Math.max(now, cur?.last_sync_ts ?? 0),
    }));
  }

  /**
   * Sync's `set_presence`, called as a sync starts; `syncTimeoutMs` is its long-poll timeout.
   * - `offline` changes nothing (a client syncing in the background, as in Synapse).
   * - `online` brings an offline user online (a new session is activity), and an unavailable one
   *   back unless they went idle (then only real activity does). An online user is left alone.
   * - `unavailable` marks the user unavailable.
   * Either way the user counts as present until the poll ends; that clock is written without a
   * stream entry (nobody sees it) and only when it moved by more than half of offline_after_ms.
   */
  async setFromSync(userId: string, state: PresenceState, syncTimeoutMs = 0): Promise<void> {
    if (!this.enabled || state === 'offline') return;
    const now = Date.now();
    const seenUntil = now + Math.max(0, syncTimeoutMs);
    const next = (cur: PresenceRow | undefined): NextRow | undefined => {
      const lastSync = Math.max(seenUntil, cur?.last_sync_ts ?? 0);
      if (state === 'online') {
        if (cur?.state === 'online') return undefined;
        if (cur?.state === 'unavailable' && now - cur.last_active_ts >= this.timeouts.idleAfterMs) return undefined;
        return { state, status_msg: cur?.status_msg ?? null, last_active_ts: now, currently_active: true, last_sync_ts: lastSync };
      }
      if (cur?.state === state) return undefined;
      return {
        state,
        status_msg: cur?.status_msg ?? null,
        last_active_ts: cur?.last_active_ts ?? now,
        currently_active: false,
        last_sync_ts: lastSync,
      };
    };
    // Most syncs change nothing visible: check without the stream lock first.
    const cur = await this.row(userId);
    if (next(cur)) await this.write(userId, next);
    else if (cur && seenUntil - cur.last_sync_ts > this.timeouts.offlineAfterMs / 2) {
      await this.db.query('UPDATE hs_presence SET last_sync_ts = $2 WHERE user_id = $1 AND last_sync_ts < $2', [userId, seenUntil]);
    }
  }

  /**
   * The user did something (sent an event): last_active moves to now, and an unavailable user is
   * online again (as Synapse's bump_presence_active_time). Offline users and users who never set
   * presence stay as they are. Throttled per process, and written at most once per active window
   * for a user who is already online and active.
   */
  async bumpActive(userId: string): Promise<void> {
    if (!this.enabled) return;
    const now = Date.now();
    const window = activeWindowMs(this.timeouts);
    if (now - (this.recentActivity.get(userId) ?? 0) < window / 2) return;
    if (this.recentActivity.size > 10_000) this.recentActivity.clear(); // bounded memory; a miss costs one read
    this.recentActivity.set(userId, now);
    const next = (cur: PresenceRow | undefined): NextRow | undefined => {
      if (!cur || cur.state === 'offline') return undefined;
      if (cur.state === 'online' && cur.currently_active && now - cur.last_active_ts < window / 2) return undefined;
      return { state: 'online', status_msg: cur.status_msg, last_active_ts: now, currently_active: true, last_sync_ts: cur.last_sync_ts };
    };
    if (next(await this.row(userId))) await this.write(userId, next);
  }

  private async row(userId: string, q: Queryable = this.db): Promise<PresenceRow | undefined> {
    const { rows } = await q.query<PresenceRow>(
      'SELECT user_id, state, status_msg, last_active_ts, currently_active, last_sync_ts FROM hs_presence WHERE user_id = $1',
      [userId],
    );
    return rows[0];
  }

  private async write(userId: string, next: (cur: PresenceRow | undefined) => NextRow | undefined): Promise<void> {
    const { rows: audience } = await this.db.query<{ user_id: string }>(
      `SELECT DISTINCT b.user_id FROM hs_memberships a JOIN hs_memberships b ON b.room_id = a.room_id AND b.membership = 'join'
       WHERE a.user_id = $1 AND a.membership = 'join'`,
      [userId],
    );
    await withStreamWrite(this.db, this.name, async (tx) => {
      const n = next(await this.row(userId, tx));
      if (!n) return;
      const { rows } = await tx.query<{ stream_id: number }>(
        `INSERT INTO hs_presence (user_id, state, status_msg, last_active_ts, currently_active, last_sync_ts) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (user_id) DO UPDATE SET state = EXCLUDED.state, status_msg = EXCLUDED.status_msg,
           last_active_ts = EXCLUDED.last_active_ts, currently_active = EXCLUDED.currently_active,
           last_sync_ts = EXCLUDED.last_sync_ts, stream_id = EXCLUDED.stream_id
         RETURNING stream_id`,
        [userId, n.state, n.status_msg, n.last_active_ts, n.currently_active, n.last_sync_ts],
      );
      const userIds = [...new Set([userId, ...audience.map((r) => r.user_id)])];
      wakeAfterCommit(tx, this.pubsub, this.log, { stream: this.name, position: rows[0]!.stream_id, userIds });
    });
  }

  // --- StreamSource ------------------------------------------------------------------------------

  async currentPosition(): Promise<number> {
    const { rows } = await this.db.query<{ pos: number }>('SELECT COALESCE(MAX(stream_id), 0)::bigint AS pos FROM hs_presence');
    return rows[0]!.pos;
  }

  /**
   * Presence of the user and of everyone sharing one of `rooms.joined` with them, changed in
   * (from, to] (for from = 0: everyone's current presence up to `to`).
   */
  async sectionFor(
    userId: string,
    _deviceId: string | undefined,
    from: number,
    to: number,
    rooms: { joined: string[] },
  ): Promise<PresenceSection | undefined> {
    if (!this.enabled) return undefined;
    const { rows } = await this.db.query<PresenceRow & { displayname: string | null; avatar_url: string | null }>(
      `SELECT p.user_id, p.state, p.status_msg, p.last_active_ts, p.currently_active, p.last_sync_ts, u.displayname, u.avatar_url
       FROM hs_presence p LEFT JOIN hs_users u ON u.user_id = p.user_id
       WHERE p.stream_id > $2 AND p.stream_id <= $3
         AND (p.user_id = $1 OR EXISTS (SELECT 1 FROM hs_memberships m
              WHERE m.user_id = p.user_id AND m.membership = 'join' AND m.room_id = ANY($4::text[])))
       ORDER BY p.stream_id`,
      [userId, from, to, rooms.joined],
    );
    if (!rows.length) return undefined;
    const now = Date.now();
    return { events: rows.map((r) => ({ type: 'm.presence' as const, sender: r.user_id, content: contentOf(r, now, r) })) };
  }
}

function contentOf(row: PresenceRow, now: number, profile?: { displayname: string | null; avatar_url: string | null }): PresenceContent {
  const content: PresenceContent = { presence: row.state, last_active_ago: Math.max(0, now - row.last_active_ts) };
  if (row.status_msg) content.status_msg = row.status_msg;
  if (row.state === 'online') content.currently_active = row.currently_active;
  if (profile?.displayname) content.displayname = profile.displayname;
  if (profile?.avatar_url) content.avatar_url = profile.avatar_url;
  return content;
}
