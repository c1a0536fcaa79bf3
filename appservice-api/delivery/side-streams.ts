import type { AppserviceRegistration } from '../../homeserver/services/appservices/registry-port.js';
import type { Queryable } from '../../homeserver/storage/db.js';
import type { Receipts } from '../../homeserver/services/ephemeral/receipts.js';
import type { Typing } from '../../homeserver/services/ephemeral/typing.js';
import type { StreamSource } from '../../homeserver/services/sync/stream-source.js';
import type { PresenceSection } from '../../homeserver/services/user-data/presence.js';
import type { OtkCounts } from '../../homeserver/services/e2e/index.js';
import { streamHead } from '../../homeserver/services/e2e/common.js';
import { readEphemeral } from './ephemeral.js';
import { otkSections, readDeviceLists, readToDevice } from './encryption.js';

/**
 * The streams besides room events that reach appservices in transactions, each with its own
 * position in as_delivery_state.stream_positions: MSC2409 ephemeral events (receipts, typing,
 * presence) and to-device messages for `receive_ephemeral` registrations, MSC3202 device list
 * changes for `org.matrix.msc3202` ones.
 */
export const SIDE_STREAMS = ['receipts', 'typing', 'presence', 'to_device', 'device_lists'] as const;
export type SideStream = (typeof SIDE_STREAMS)[number];
export type SidePositions = Record<SideStream, number>;

/** Transaction body keys (unstable prefixes: what Synapse sends and the bridge SDKs read). */
export const EPHEMERAL_KEY = 'de.sorunome.msc2409.ephemeral';
export const TO_DEVICE_KEY = 'de.sorunome.msc2409.to_device';
export const DEVICE_LISTS_KEY = 'org.matrix.msc3202.device_lists';
export const OTK_COUNT_KEY = 'org.matrix.msc3202.device_one_time_keys_count';
export const FALLBACK_KEYS_KEY = 'org.matrix.msc3202.device_unused_fallback_key_types';

/** Reads of homeserver services the side streams use (given by the composition root; absent ones are skipped). */
export interface SideSources {
  receipts?: Pick<Receipts, 'changedRooms'>;
  typing?: Pick<Typing, 'changedRooms'>;
  presence?: Pick<StreamSource<PresenceSection>, 'sectionFor'>;
  otkCounts?: (userId: string, deviceId: string) => Promise<OtkCounts>;
}

export interface SideContext {
  db: Queryable;
  serverName: string;
  sources: SideSources;
  /** Items per stream per transaction. */
  limit: number;
}

export interface SideRead {
  /** Extra transaction body sections (empty when nothing is of interest). */
  sections: Record<string, unknown>;
  /** Positions once this read is acknowledged. */
  to: SidePositions;
  /** Whether any position moved (possibly over items of no interest). */
  moved: boolean;
}

/** The current head of every side stream: where a new appservice (or a new stream) starts. */
export async function sideHeads(db: Queryable): Promise<SidePositions> {
  const { rows } = await db.query<{ receipts: number | null; typing: number | null; presence: number | null }>(
    `SELECT (SELECT max(stream_id) FROM hs_receipts) AS receipts, (SELECT max(stream_id) FROM hs_typing) AS typing,
            (SELECT max(stream_id) FROM hs_presence) AS presence`,
  );
  const r = rows[0]!;
  return {
    receipts: Number(r.receipts ?? 0),
    typing: Number(r.typing ?? 0),
    presence: Number(r.presence ?? 0),
    to_device: await streamHead(db, 'to_device'),
    device_lists: await streamHead(db, 'device_lists'),
  };
}

/** Stored positions, with streams the row does not know yet starting at their head. */
export async function completePositions(db: Queryable, stored: Partial<Record<string, number>> | null): Promise<SidePositions> {
  const missing = SIDE_STREAMS.filter((s) => typeof stored?.[s] !== 'number');
  const heads = missing.length ? await sideHeads(db) : undefined;
  return Object.fromEntries(SIDE_STREAMS.map((s) => [s, typeof stored?.[s] === 'number' ? stored[s] : heads![s]])) as SidePositions;
}

/**
 * Everything new on the side streams for one appservice after `from`. `eventUsers` are the
 * appservice's users in the transaction's room events: with MSC3202 their one-time-key counts
 * ride along (as Synapse does), as do those of to-device recipients.
 */
export async function readSideStreams(
  ctx: SideContext,
  reg: AppserviceRegistration,
  from: SidePositions,
  eventUsers: string[],
): Promise<SideRead> {
  const to = { ...from };
  const sections: Record<string, unknown> = {};
  const otkUsers = new Set(eventUsers);
  if (reg.receiveEphemeral) {
    const eph = await readEphemeral(ctx, reg, from);
    Object.assign(to, eph.to);
    if (eph.items.length) sections[EPHEMERAL_KEY] = eph.items;
    const td = await readToDevice(ctx, reg, from.to_device);
    to.to_device = td.to;
    if (td.events.length) sections[TO_DEVICE_KEY] = td.events;
    for (const e of td.events) otkUsers.add(e.to_user_id);
  }
  if (reg.msc3202) {
    const dl = await readDeviceLists(ctx, reg, from.device_lists);
    to.device_lists = dl.to;
    if (dl.changed.length || dl.left.length) sections[DEVICE_LISTS_KEY] = { changed: dl.changed, left: dl.left };
    // Counts only ride along with something else: on their own they would make a transaction
    // for every key claim.
    if (Object.keys(sections).length || eventUsers.length) {
      const otk = await otkSections(ctx, [...otkUsers]);
      if (otk) {
        sections[OTK_COUNT_KEY] = otk.counts;
        sections[FALLBACK_KEYS_KEY] = otk.fallbacks;
      }
    }
  }
  const moved = SIDE_STREAMS.some((s) => to[s] !== from[s]);
  return { sections, to, moved };
}
