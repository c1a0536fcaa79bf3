import type { Db } from '../../storage/db.js';

export interface UserDirectoryResult {
  user_id: string;
  display_name?: string;
  avatar_url?: string;
}

export const DEFAULT_SEARCH_LIMIT = 10;
export const MAX_SEARCH_LIMIT = 100;

/**
 * `POST /user_directory/search` with Synapse's default visibility (`search_all_users: false`):
 * the requester finds users who share a room with them and users joined to a public room
 * (join rule `public`). Every word of the search term must occur in the user id or the display
 * name, case-insensitively; prefix matches of the localpart or display name rank first.
 */
export class UserDirectory {
  constructor(private db: Db) {}

  async search(
    requesterId: string,
    term: string,
    limit = DEFAULT_SEARCH_LIMIT,
  ): Promise<{ limited: boolean; results: UserDirectoryResult[] }> {
    const words = term.toLowerCase().split(/\s+/).filter(Boolean).slice(0, 10);
    if (!words.length) return { limited: false, results: [] };
    const n = Math.min(Math.max(Math.trunc(limit), 0), MAX_SEARCH_LIMIT);
    const patterns = words.map((w) => `%${w.replace(/[\\%_]/g, '\\$&')}%`);
    const { rows } = await this.db.query<{ user_id: string; displayname: string | null; avatar_url: string | null }>(
      `SELECT u.user_id, u.displayname, u.avatar_url FROM hs_users u
       WHERE NOT u.deactivated
         AND (SELECT bool_and(lower(u.user_id) LIKE p OR lower(COALESCE(u.displayname, '')) LIKE p) FROM unnest($2::text[]) AS p)
         AND (
           EXISTS (SELECT 1 FROM hs_memberships a JOIN hs_memberships b ON b.room_id = a.room_id
                   WHERE a.user_id = $1 AND a.membership = 'join' AND b.user_id = u.user_id AND b.membership = 'join')
           OR EXISTS (SELECT 1 FROM hs_memberships m
                      JOIN hs_room_state s ON s.room_id = m.room_id AND s.type = 'm.room.join_rules' AND s.state_key = ''
                      JOIN hs_events e ON e.event_id = s.event_id
                      WHERE m.user_id = u.user_id AND m.membership = 'join'
                        AND (e.json::jsonb #>> '{content,join_rule}') = 'public'))
       ORDER BY (lower(substr(u.user_id, 2)) LIKE $3 ESCAPE '\\' OR lower(COALESCE(u.displayname, '')) LIKE $3 ESCAPE '\\') DESC,
                u.displayname IS NULL, lower(u.displayname), u.user_id
       LIMIT $4`,
      [requesterId, patterns, `${words[0]!.replace(/[\\%_]/g, '\\$&')}%`, n + 1],
    );
    const results = rows.slice(0, n).map((r) => {
      const out: UserDirectoryResult = { user_id: r.user_id };
      if (r.displayname) out.display_name = r.displayname;
      if (r.avatar_url) out.avatar_url = r.avatar_url;
      return out;
    });
    return { limited: rows.length > n, results };
  }
}
