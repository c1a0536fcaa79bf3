import type { Db, Tx } from '../../storage/db.js';
import type { PubSub } from '../../runtime/ports.js';
import type { PusherFields, PusherRequest } from './pusher-request.js';

/** Published after a pusher is added, changed or removed, so the delivering process reloads it. */
export const PUSHERS_TOPIC = 'hs.pushers';

/** A stored pusher with what delivery needs besides the client-visible fields. */
export interface StoredPusher extends PusherFields {
  user_id: string;
  device_id: string | null;
  pushkey_ts: number;
  last_stream_ordering: number;
  failing_since: number | null;
}

interface PusherRow {
  user_id: string;
  app_id: string;
  pushkey: string;
  kind: 'http' | 'email';
  app_display_name: string;
  device_display_name: string;
  profile_tag: string | null;
  lang: string;
  data: Record<string, unknown>;
  device_id: string | null;
  pushkey_ts: string;
  last_stream_ordering: string;
  failing_since: string | null;
}

const COLUMNS = `user_id, app_id, pushkey, kind, app_display_name, device_display_name, profile_tag, lang, data, device_id,
  pushkey_ts, last_stream_ordering, failing_since`;

/** The user's pushers in Postgres (`hs_pushers`, migration 0012): `GET /pushers` and `POST /pushers/set`. */
export class Pushers {
  constructor(
    private readonly db: Db,
    private readonly pubsub: PubSub,
  ) {}

  /** `GET /pushers`: the client-visible fields (profile_tag only when set: the spec types it as a string). */
  async list(userId: string): Promise<PusherFields[]> {
    const { rows } = await this.db.query<PusherRow>(`SELECT ${COLUMNS} FROM hs_pushers WHERE user_id = $1 ORDER BY app_id, pushkey`, [
      userId,
    ]);
    return rows.map(clientView);
  }

  /**
   * `POST /pushers/set`. A new or changed HTTP pusher belongs to the calling device (and goes when
   * it is deleted); an email pusher belongs to no device (Synapse issue #3696: it should survive a
   * logout). A pusher created now starts at the current stream position; one updated keeps its
   * position, so re-registering (every app start does) neither repeats nor skips notifications.
   */
  async set(userId: string, deviceId: string | undefined, req: PusherRequest): Promise<void> {
    if (req.delete) {
      await this.db.query('DELETE FROM hs_pushers WHERE user_id = $1 AND app_id = $2 AND pushkey = $3', [userId, req.app_id, req.pushkey]);
      await this.announce();
      return;
    }
    const p = req.pusher;
    await this.db.withTransaction(async (tx) => {
      // Spec: without append, the same app_id + pushkey registered by other users stops there.
      if (!req.append)
        await tx.query('DELETE FROM hs_pushers WHERE app_id = $1 AND pushkey = $2 AND user_id <> $3', [p.app_id, p.pushkey, userId]);
      await tx.query(
        `INSERT INTO hs_pushers (user_id, app_id, pushkey, kind, app_display_name, device_display_name, profile_tag, lang, data,
                                 device_id, pushkey_ts, last_stream_ordering)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, COALESCE((SELECT max(stream_ordering) FROM hs_events), 0))
         ON CONFLICT (user_id, app_id, pushkey) DO UPDATE SET
           kind = EXCLUDED.kind, app_display_name = EXCLUDED.app_display_name, device_display_name = EXCLUDED.device_display_name,
           profile_tag = EXCLUDED.profile_tag, lang = EXCLUDED.lang, data = EXCLUDED.data, device_id = EXCLUDED.device_id,
           pushkey_ts = EXCLUDED.pushkey_ts`,
        [
          userId,
          p.app_id,
          p.pushkey,
          p.kind,
          p.app_display_name,
          p.device_display_name,
          p.profile_tag ?? null,
          p.lang,
          JSON.stringify(p.data),
          p.kind === 'http' ? (deviceId ?? null) : null,
          Date.now(),
        ],
      );
    });
    await this.announce();
  }

  /** Every HTTP pusher (the delivering process's working set). */
  async httpPushers(): Promise<StoredPusher[]> {
    const { rows } = await this.db.query<PusherRow>(`SELECT ${COLUMNS} FROM hs_pushers WHERE kind = 'http'`);
    return rows.map(toStored);
  }

  /** One pusher as stored now (undefined once deleted). */
  async get(userId: string, appId: string, pushkey: string): Promise<StoredPusher | undefined> {
    const { rows } = await this.db.query<PusherRow>(
      `SELECT ${COLUMNS} FROM hs_pushers WHERE user_id = $1 AND app_id = $2 AND pushkey = $3`,
      [userId, appId, pushkey],
    );
    return rows[0] && toStored(rows[0]);
  }

  /** Records delivery progress; false when the pusher is gone (deleted meanwhile). */
  async advance(p: StoredPusher, position: number): Promise<boolean> {
    const r = await this.db.query(
      `UPDATE hs_pushers SET last_stream_ordering = GREATEST(last_stream_ordering, $4), failing_since = NULL
        WHERE user_id = $1 AND app_id = $2 AND pushkey = $3`,
      [p.user_id, p.app_id, p.pushkey, position],
    );
    return r.rowCount === 1;
  }

  /** Remembers since when the notification in flight has been failing (kept across restarts). */
  async markFailing(p: StoredPusher, since: number): Promise<void> {
    await this.db.query(
      `UPDATE hs_pushers SET failing_since = COALESCE(failing_since, $4) WHERE user_id = $1 AND app_id = $2 AND pushkey = $3`,
      [p.user_id, p.app_id, p.pushkey, since],
    );
  }

  /** The gateway rejected these pushkeys (spec): the user's pushers for them under this app_id go. */
  async removeRejected(userId: string, appId: string, pushkeys: string[]): Promise<void> {
    await this.db.query('DELETE FROM hs_pushers WHERE user_id = $1 AND app_id = $2 AND pushkey = ANY($3)', [userId, appId, pushkeys]);
    await this.announce();
  }

  /** accounts.onDevicesDeleted: the devices' pushers go with them, in the same transaction. */
  async devicesDeleted(tx: Tx, userId: string, deviceIds: string[] | 'all'): Promise<void> {
    const r =
      deviceIds === 'all'
        ? await tx.query('DELETE FROM hs_pushers WHERE user_id = $1', [userId])
        : await tx.query('DELETE FROM hs_pushers WHERE user_id = $1 AND device_id = ANY($2)', [userId, deviceIds]);
    if (r.rowCount) tx.afterCommit(() => void this.announce().catch(() => undefined));
  }

  /** Tells the delivering process (whichever it is) to reload its pushers. */
  async announce(): Promise<void> {
    await this.pubsub.publish(PUSHERS_TOPIC, {});
  }
}

function toStored(r: PusherRow): StoredPusher {
  return {
    user_id: r.user_id,
    ...clientView(r),
    device_id: r.device_id,
    pushkey_ts: Number(r.pushkey_ts),
    last_stream_ordering: Number(r.last_stream_ordering),
    failing_since: r.failing_since === null ? null : Number(r.failing_since),
  };
}

/** The client-visible fields; profile_tag only when set (stored as NULL when absent). */
function clientView(p: PusherFields | PusherRow): PusherFields {
  return {
    pushkey: p.pushkey,
    kind: p.kind,
    app_id: p.app_id,
    app_display_name: p.app_display_name,
    device_display_name: p.device_display_name,
    ...(p.profile_tag != null ? { profile_tag: p.profile_tag } : {}),
    lang: p.lang,
    data: p.data,
  };
}
