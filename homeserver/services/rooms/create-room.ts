import { MatrixError } from '../../matrix/errors.js';
import { generateRoomId, makeRoomAlias, parseUserId, serverNameOf } from '../../matrix/ids.js';
import { DEFAULT_ROOM_VERSION, isSupportedRoomVersion, type RoomVersionId } from '../../matrix/room-versions.js';
import type { Requester } from '../requester.js';
import type { EventDraft } from './event-builder.js';
import { defaultPowerLevels } from './power-level-defaults.js';
import type { RoomsContext } from './rooms-context.js';
import type { Aliases } from './aliases.js';
import type { AppserviceQueries } from '../appservices/queries.js';

export interface CreateRoomRequest {
  visibility?: 'public' | 'private';
  room_alias_name?: string;
  name?: string;
  topic?: string;
  invite?: string[];
  room_version?: string;
  creation_content?: Record<string, unknown>;
  initial_state?: { type: string; state_key?: string; content: Record<string, unknown> }[];
  preset?: 'private_chat' | 'public_chat' | 'trusted_private_chat';
  is_direct?: boolean;
  power_level_content_override?: Record<string, unknown>;
}

const PRESET_STATE: Record<string, { join_rule: string; history: string; guest: string }> = {
  private_chat: { join_rule: 'invite', history: 'shared', guest: 'can_join' },
  trusted_private_chat: { join_rule: 'invite', history: 'shared', guest: 'can_join' },
  public_chat: { join_rule: 'public', history: 'shared', guest: 'forbidden' },
};

/**
 * `POST /createRoom`: the spec's fixed order of initial events — create, the creator's join,
 * power levels (with the override merged in), canonical alias, the preset's join rules / history
 * visibility / guest access, initial_state, name, topic, then the invites. All of them are one
 * all-or-nothing job for the room writer.
 */
export async function createRoom(
  ctx: RoomsContext,
  aliases: Aliases,
  requester: Requester,
  req: CreateRoomRequest,
  queries?: AppserviceQueries,
) {
  const version = (req.room_version ?? DEFAULT_ROOM_VERSION) as RoomVersionId;
  if (!isSupportedRoomVersion(version))
    throw new MatrixError('M_UNSUPPORTED_ROOM_VERSION', `Room version ${req.room_version} is not supported`);
  const preset = req.preset ?? (req.visibility === 'public' ? 'public_chat' : 'private_chat');
  if (!PRESET_STATE[preset]) throw MatrixError.invalidParam(`Unknown preset ${preset}`);
  const invitees = [...new Set(req.invite ?? [])];
  for (const u of invitees) parseUserId(u);
  // An appservice holding an unknown invitee's namespace gets the chance to create it first
  // (invites to unknown users are not refused here, so the answer changes nothing else).
  for (const u of invitees) if (queries && serverNameOf(u) === ctx.serverName) await queries.user(u, () => ctx.accounts.getUser(u));
  const alias = req.room_alias_name !== undefined ? makeRoomAlias(req.room_alias_name, ctx.serverName) : undefined;
  if (alias) await aliases.checkAvailable(requester, alias);

  const roomId = generateRoomId(ctx.serverName);
  const creator = requester.userId;
  const profile = await ctx.accounts.getUser(creator);
  const state = (type: string, content: Record<string, unknown>, state_key = ''): EventDraft => ({
    type,
    state_key,
    content,
    sender: creator,
  });

  const createContent: Record<string, unknown> = { ...(req.creation_content ?? {}), room_version: version };
  if (version === '10') createContent.creator = creator; // v11 derives the creator from the sender
  const drafts: EventDraft[] = [
    state('m.room.create', createContent),
    state('m.room.member', withProfile({ membership: 'join' }, profile), creator),
    state('m.room.power_levels', { ...defaultPowerLevels(creator, preset, invitees), ...(req.power_level_content_override ?? {}) }),
  ];
  if (alias) drafts.push(state('m.room.canonical_alias', { alias }));
  const presetState = PRESET_STATE[preset]!;
  const initial = new Map<string, EventDraft>();
  initial.set('m.room.join_rules\u0000', state('m.room.join_rules', { join_rule: presetState.join_rule }));
  initial.set('m.room.history_visibility\u0000', state('m.room.history_visibility', { history_visibility: presetState.history }));
  initial.set('m.room.guest_access\u0000', state('m.room.guest_access', { guest_access: presetState.guest }));
  for (const s of req.initial_state ?? []) {
    if (
      ['m.room.create', 'm.room.member', 'm.room.power_levels'].includes(s.type) &&
      (s.state_key ?? '') === (s.type === 'm.room.member' ? creator : '')
    )
      continue; // these are set above; the spec says initial_state cannot override them
    initial.set(`${s.type}\u0000${s.state_key ?? ''}`, state(s.type, s.content, s.state_key ?? ''));
  }
  drafts.push(...initial.values());
  if (req.name !== undefined) drafts.push(state('m.room.name', { name: req.name }));
  if (req.topic !== undefined) drafts.push(state('m.room.topic', { topic: req.topic }));
  for (const u of invitees) {
    const content: Record<string, unknown> = { membership: 'invite' };
    if (req.is_direct) content.is_direct = true;
    drafts.push(state('m.room.member', content, u));
  }

  await ctx.input.create(roomId, version, creator, drafts);
  if (alias) await aliases.create(requester, alias, roomId, { skipMembershipCheck: true });
  if (req.visibility === 'public') await ctx.db.query('UPDATE hs_rooms SET is_public = true WHERE room_id = $1', [roomId]);
  return { room_id: roomId, ...(alias ? { room_alias: alias } : {}) };
}

export function withProfile(
  content: Record<string, unknown>,
  profile: { displayname: string | null; avatar_url: string | null } | undefined,
) {
  const out = { ...content };
  if (profile?.displayname) out.displayname = profile.displayname;
  if (profile?.avatar_url) out.avatar_url = profile.avatar_url;
  return out;
}
