import { getRoomVersionRules, type RoomVersionId } from './room-versions.js';

/**
 * Reading m.room.power_levels content with the spec's defaults (C-S "m.room.power_levels",
 * S-S "Definitions"). Room versions 10+ require every level to be a JSON integer and the auth
 * rules reject any power levels event that is not, so a value of another type can only come from
 * a corrupt store; it is treated as absent (the default applies) rather than coerced, so that a
 * string "100" can never grant power here that the protocol would not.
 */
export interface PowerLevelsContent {
  ban?: number;
  events?: Record<string, number>;
  events_default?: number;
  invite?: number;
  kick?: number;
  notifications?: Record<string, number>;
  redact?: number;
  state_default?: number;
  users?: Record<string, number>;
  users_default?: number;
}

/** Accepts the typed content or the raw `content` of a stored event. */
export type PowerLevelsInput = PowerLevelsContent | Readonly<Record<string, unknown>> | undefined;

/** The minimal view of an m.room.create event needed to find the room's creator. */
export interface CreateEventLike {
  sender: string;
  content: Record<string, unknown>;
}

export const DEFAULT_LEVELS = {
  users_default: 0,
  events_default: 0,
  /** 50 whether or not the room has a power levels event (C-S spec, m.room.power_levels). */
  state_default: 50,
  invite: 0,
  kick: 50,
  ban: 50,
  redact: 50,
  notification: 50,
  /** The creator's level while the room has no power levels event (room versions 1-11). */
  creator: 100,
} as const;

export type ActionLevelName = 'invite' | 'kick' | 'ban' | 'redact';

function level(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isSafeInteger(v) ? v : undefined;
}

function levelMap(pl: PowerLevelsInput, key: 'users' | 'events' | 'notifications'): Record<string, unknown> | undefined {
  const m = (pl as Record<string, unknown> | undefined)?.[key];
  return typeof m === 'object' && m !== null && !Array.isArray(m) ? (m as Record<string, unknown>) : undefined;
}

function own(map: Record<string, unknown> | undefined, key: string): unknown {
  // Own properties only: an event type or user id named "constructor" must not hit the prototype.
  return map && Object.prototype.hasOwnProperty.call(map, key) ? map[key] : undefined;
}

/**
 * The room creator: `content.creator` in v10, the sender in v11 (which dropped `creator`). Without
 * a version, `content.creator` wins when it is a string, which is right for both: v11 events
 * created by conforming servers have none.
 */
export function roomCreatorOf(createEvent: CreateEventLike, version?: RoomVersionId): string {
  const useContent =
    version === undefined ? typeof createEvent.content.creator === 'string' : getRoomVersionRules(version).createContentHasCreator;
  const creator = useContent ? createEvent.content.creator : createEvent.sender;
  return typeof creator === 'string' ? creator : createEvent.sender;
}

/**
 * A user's power level: their `users` entry, else `users_default`, else 0. While the room has no
 * power levels event (between create and the initial power levels) the creator has 100.
 */
export function userLevel(pl: PowerLevelsInput, userId: string, createEvent?: CreateEventLike, version?: RoomVersionId): number {
  if (pl === undefined) {
    return createEvent && roomCreatorOf(createEvent, version) === userId ? DEFAULT_LEVELS.creator : DEFAULT_LEVELS.users_default;
  }
  const p = pl as Record<string, unknown>;
  return level(own(levelMap(pl, 'users'), userId)) ?? level(p.users_default) ?? DEFAULT_LEVELS.users_default;
}

/**
 * The "required power level" to send an event of `type`: `events[type]`, else `state_default`
 * (50) for state events or `events_default` (0) for others.
 */
export function eventLevelRequired(pl: PowerLevelsInput, type: string, isState: boolean): number {
  const explicit = level(own(levelMap(pl, 'events'), type));
  if (explicit !== undefined) return explicit;
  const p = pl as Record<string, unknown> | undefined;
  return isState ? (level(p?.state_default) ?? DEFAULT_LEVELS.state_default) : (level(p?.events_default) ?? DEFAULT_LEVELS.events_default);
}

/** The invite (default 0), kick, ban and redact (default 50) levels. */
export function membershipActionLevel(pl: PowerLevelsInput, action: ActionLevelName): number {
  return level((pl as Record<string, unknown> | undefined)?.[action]) ?? DEFAULT_LEVELS[action];
}

/** The level needed to trigger a notification of kind `key` (`room` = @room), default 50. */
export function notificationLevel(pl: PowerLevelsInput, key = 'room'): number {
  return level(own(levelMap(pl, 'notifications'), key)) ?? DEFAULT_LEVELS.notification;
}
