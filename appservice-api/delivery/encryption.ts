import type { AppserviceRegistration } from '../../homeserver/services/appservices/registry-port.js';
import { streamHead } from '../../homeserver/services/e2e/common.js';
import { appserviceOwnsUser, joinedRoomsOf, loadRoomFacts } from './interest.js';
import type { SideContext } from './side-streams.js';

/** A to-device message in a transaction: the sync shape plus its recipient (MSC2409 / MSC4203). */
export interface AppserviceToDevice {
  type: string;
  sender: string;
  content: Record<string, unknown>;
  to_user_id: string;
  to_device_id: string;
}

/**
 * To-device messages for devices of the appservice's users after `from`, bounded by the stream
 * head (rows above it may still be uncommitted). At most `limit` rows are scanned per step, so
 * `to` is the last scanned position when more wait. The inbox rows stay: a device of a
 * non-exclusive namespace user may also belong to a syncing client, which acknowledges its own.
 */
export async function readToDevice(
  ctx: SideContext,
  reg: AppserviceRegistration,
  from: number,
): Promise<{ events: AppserviceToDevice[]; to: number }> {
  const head = await streamHead(ctx.db, 'to_device');
  if (head <= from) return { events: [], to: from };
  const { rows } = await ctx.db.query<{
    position: number;
    user_id: string;
    device_id: string;
    sender: string;
    type: string;
    content: string;
  }>(
    `SELECT position, user_id, device_id, sender, type, content FROM hs_e2e_device_inbox
      WHERE position > $1 AND position <= $2 ORDER BY position LIMIT $3`,
    [from, head, ctx.limit],
  );
  const to = rows.length === ctx.limit ? Number(rows.at(-1)!.position) : head;
  const events = rows
    .filter((r) => appserviceOwnsUser(reg, ctx.serverName, r.user_id))
    .map((r) => ({ type: r.type, sender: r.sender, content: JSON.parse(r.content), to_user_id: r.user_id, to_device_id: r.device_id }));
  return { events, to };
}

/**
 * MSC3202 device list changes after `from`: users whose keys changed and who are the
 * appservice's users or share a joined room with one of them (a change addressed to one user
 * only counts when that user is the appservice's). `left` stays empty, as in Synapse: a bridge
 * learns departures from the membership events it already receives.
 */
export async function readDeviceLists(
  ctx: SideContext,
  reg: AppserviceRegistration,
  from: number,
): Promise<{ changed: string[]; left: string[]; to: number }> {
  const head = await streamHead(ctx.db, 'device_lists');
  if (head <= from) return { changed: [], left: [], to: from };
  const { rows } = await ctx.db.query<{ position: number; user_id: string; audience: string | null }>(
    `SELECT position, user_id, audience FROM hs_e2e_device_list_changes WHERE position > $1 AND position <= $2 ORDER BY position LIMIT $3`,
    [from, head, ctx.limit],
  );
  const to = rows.length === ctx.limit ? Number(rows.at(-1)!.position) : head;
  const owns = (u: string) => appserviceOwnsUser(reg, ctx.serverName, u);
  const changed = new Set<string>();
  const undecided = new Set<string>();
  for (const r of rows) {
    if (r.audience !== null) {
      if (owns(r.audience)) changed.add(r.user_id);
    } else if (owns(r.user_id)) changed.add(r.user_id);
    else undecided.add(r.user_id);
  }
  const rooms = await joinedRoomsOf(ctx.db, [...undecided]);
  if (rooms.size) {
    const facts = await loadRoomFacts(ctx.db, [...new Set([...rooms.values()].flat())]);
    for (const [userId, roomIds] of rooms) {
      if (roomIds.some((roomId) => (facts.joined.get(roomId) ?? []).some(owns))) changed.add(userId);
    }
  }
  return { changed: [...changed].sort(), left: [], to };
}

/** MSC3202 one-time-key counts and unused fallback key types of every device of the users; undefined when none has a device. */
export async function otkSections(
  ctx: SideContext,
  userIds: string[],
): Promise<
  { counts: Record<string, Record<string, Record<string, number>>>; fallbacks: Record<string, Record<string, string[]>> } | undefined
> {
  const otkCounts = ctx.sources.otkCounts;
  if (!otkCounts || !userIds.length) return undefined;
  const { rows } = await ctx.db.query<{ user_id: string; device_id: string }>(
    'SELECT user_id, device_id FROM hs_devices WHERE user_id = ANY($1) ORDER BY user_id, device_id',
    [userIds],
  );
  if (!rows.length) return undefined;
  const counts: Record<string, Record<string, Record<string, number>>> = {};
  const fallbacks: Record<string, Record<string, string[]>> = {};
  for (const r of rows) {
    const c = await otkCounts(r.user_id, r.device_id);
    (counts[r.user_id] ??= {})[r.device_id] = c.device_one_time_keys_count;
    (fallbacks[r.user_id] ??= {})[r.device_id] = c.device_unused_fallback_key_types;
  }
  return { counts, fallbacks };
}
