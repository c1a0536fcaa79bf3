import { MatrixError } from '../../matrix/errors.js';
import { parseRoomId } from '../../matrix/ids.js';
import type { Logger } from '../../runtime/logger.js';
import type { PubSub } from '../../runtime/ports.js';
import type { Db, Queryable, Tx } from '../../storage/db.js';
import type { StreamSource } from '../sync/stream-source.js';
import { ACCOUNT_DATA_STREAM, wakeAfterCommit, withStreamWrite } from './streams.js';

export interface AccountDataEvent {
  type: string;
  content: Record<string, unknown>;
}

/** The `account_data` part of a sync: global events and each room's events (latest value per type). */
export interface AccountDataSection {
  global: AccountDataEvent[];
  rooms: Record<string, AccountDataEvent[]>;
}

/** Types the server manages; clients must not set them through the account data API (spec: 405). */
export const SERVER_MANAGED_TYPES: ReadonlySet<string> = new Set(['m.fully_read', 'm.push_rules']);
export const PUSH_RULES_TYPE = 'm.push_rules';
export const TAG_TYPE = 'm.tag';

const GLOBAL = '';

/**
 * Writes one account data value inside a stream write (see withStreamWrite) and returns its new
 * stream position. Other services that keep state in account data (push rules) call this.
 */
export async function upsertAccountData(tx: Tx, userId: string, roomId: string | null, type: string, content: unknown): Promise<number> {
  const { rows } = await tx.query<{ stream_id: number }>(
    `INSERT INTO hs_account_data (user_id, room_id, type, content) VALUES ($1, $2, $3, $4)
     ON CONFLICT (user_id, room_id, type) DO UPDATE SET content = EXCLUDED.content, stream_id = EXCLUDED.stream_id
     RETURNING stream_id`,
    [userId, roomId ?? GLOBAL, type, JSON.stringify(content)],
  );
  return rows[0]!.stream_id;
}

/**
 * Global and per-room account data (spec: "Client Config"), room tags (stored as the room's
 * `m.tag` account data) and the `account_data` stream of sync. `m.push_rules` is always served
 * from the push rules themselves, so it exists for every user and is never stale.
 */
export class AccountData implements StreamSource<AccountDataSection> {
  readonly name = ACCOUNT_DATA_STREAM;

  constructor(
    private db: Db,
    private pubsub: PubSub,
    private log: Logger,
    /** The user's current push rules as `m.push_rules` content. */
    private pushRulesContent: (userId: string) => Promise<Record<string, unknown>>,
  ) {}

  /** The content of one type, or undefined when never set. */
  async get(userId: string, roomId: string | null, type: string, q: Queryable = this.db): Promise<Record<string, unknown> | undefined> {
    if (roomId === null && type === PUSH_RULES_TYPE) return this.pushRulesContent(userId);
    const { rows } = await q.query<{ content: string }>(
      'SELECT content FROM hs_account_data WHERE user_id = $1 AND room_id = $2 AND type = $3',
      [userId, roomId ?? GLOBAL, type],
    );
    return rows[0] ? (JSON.parse(rows[0].content) as Record<string, unknown>) : undefined;
  }

  /** Sets a value with no restriction on the type (server-side writers, e.g. read markers' m.fully_read). */
  async set(userId: string, roomId: string | null, type: string, content: Record<string, unknown>): Promise<number> {
    return withStreamWrite(this.db, this.name, async (tx) => {
      const position = await upsertAccountData(tx, userId, roomId, type, content);
      this.wake(tx, userId, position);
      return position;
    });
  }

  /** `PUT .../account_data/{type}` on behalf of a client: server-managed types are refused (405). */
  async setFromClient(userId: string, roomId: string | null, type: string, content: Record<string, unknown>): Promise<void> {
    if (SERVER_MANAGED_TYPES.has(type)) throw new MatrixError('M_BAD_JSON', `Cannot set ${type} through this API.`, 405);
    if (roomId !== null) parseRoomId(roomId);
    await this.set(userId, roomId, type, content);
  }

  async tags(userId: string, roomId: string): Promise<Record<string, Record<string, unknown>>> {
    const content = await this.get(userId, parseRoomId(roomId), TAG_TYPE);
    return tagsOf(content);
  }

  /** Adds or replaces one tag of a room (the tag's body, e.g. `{ order: 0.5 }`, is kept as sent). */
  setTag(userId: string, roomId: string, tag: string, body: Record<string, unknown>): Promise<void> {
    return this.updateTags(userId, parseRoomId(roomId), (tags) => {
      tags[tag] = body;
      return true;
    });
  }

  removeTag(userId: string, roomId: string, tag: string): Promise<void> {
    return this.updateTags(userId, parseRoomId(roomId), (tags) => {
      if (!Object.prototype.hasOwnProperty.call(tags, tag)) return false;
      delete tags[tag];
      return true;
    });
  }

  private async updateTags(userId: string, roomId: string, change: (tags: Record<string, Record<string, unknown>>) => boolean) {
    await withStreamWrite(this.db, this.name, async (tx) => {
      // The stream lock serialises every account data write, so this read-modify-write cannot race.
      const content = await this.get(userId, roomId, TAG_TYPE, tx);
      const tags = tagsOf(content);
      if (!change(tags)) return;
      const position = await upsertAccountData(tx, userId, roomId, TAG_TYPE, { ...(content ?? {}), tags });
      this.wake(tx, userId, position);
    });
  }

  private wake(tx: Tx, userId: string, position: number) {
    wakeAfterCommit(tx, this.pubsub, this.log, { stream: this.name, position, userIds: [userId] });
  }

  // --- StreamSource ------------------------------------------------------------------------------

  async currentPosition(): Promise<number> {
    const { rows } = await this.db.query<{ pos: number }>('SELECT COALESCE(MAX(stream_id), 0)::bigint AS pos FROM hs_account_data');
    return rows[0]!.pos;
  }

  /**
   * The latest value of every type changed in (from, to]; for from = 0, the user's whole account
   * data up to `to`, always including `m.push_rules`. Room account data is returned for every
   * room that has some; sync decides which rooms it shows.
   */
  async sectionFor(userId: string, _deviceId: string | undefined, from: number, to: number): Promise<AccountDataSection | undefined> {
    const { rows } = await this.db.query<{ room_id: string; type: string; content: string }>(
      `SELECT room_id, type, content FROM hs_account_data
       WHERE user_id = $1 AND stream_id > $2 AND stream_id <= $3 ORDER BY stream_id`,
      [userId, from, to],
    );
    const section: AccountDataSection = { global: [], rooms: {} };
    let pushRules = false;
    for (const row of rows) {
      if (row.room_id === GLOBAL && row.type === PUSH_RULES_TYPE) {
        pushRules = true;
        continue;
      }
      const event = { type: row.type, content: JSON.parse(row.content) as Record<string, unknown> };
      if (row.room_id === GLOBAL) section.global.push(event);
      else (section.rooms[row.room_id] ??= []).push(event);
    }
    if (pushRules || from === 0) section.global.push({ type: PUSH_RULES_TYPE, content: await this.pushRulesContent(userId) });
    if (!section.global.length && !Object.keys(section.rooms).length) return undefined;
    return section;
  }
}

function tagsOf(content: Record<string, unknown> | undefined): Record<string, Record<string, unknown>> {
  const tags = content?.tags;
  if (typeof tags !== 'object' || tags === null || Array.isArray(tags)) return {};
  return { ...(tags as Record<string, Record<string, unknown>>) };
}
