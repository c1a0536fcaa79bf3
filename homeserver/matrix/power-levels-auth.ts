import { parseUserId } from './ids.js';
import type { PowerLevelsInput } from './power-levels.js';

/**
 * Auth rule 9 of room versions 10/11: what makes an m.room.power_levels event acceptable. Split
 * from auth-rules.ts because it is a self-contained diff of two power level contents.
 */

/** The single-valued levels; each change to one is checked against the sender's level. */
const SCALAR_LEVELS = ['users_default', 'events_default', 'state_default', 'ban', 'redact', 'kick', 'invite'] as const;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
/** v10 made strings of digits invalid; the range is canonical JSON's. */
const isLevel = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
const hasOwn = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);

function isValidUserId(id: string): boolean {
  try {
    parseUserId(id);
    return true;
  } catch {
    return false;
  }
}

/** Rules 9.1-9.3: the shape of the new content, independent of the old one. */
export function powerLevelsShapeError(content: Record<string, unknown>): string | undefined {
  for (const key of SCALAR_LEVELS) {
    if (hasOwn(content, key) && !isLevel(content[key])) return `Power level '${key}' must be an integer`;
  }
  for (const key of ['events', 'notifications'] as const) {
    if (!hasOwn(content, key)) continue;
    const map = content[key];
    if (!isObject(map)) return `Power levels '${key}' must be an object`;
    for (const [k, v] of Object.entries(map)) if (!isLevel(v)) return `Power level '${key}.${k}' must be an integer`;
  }
  if (hasOwn(content, 'users')) {
    const users = content.users;
    if (!isObject(users)) return "Power levels 'users' must be an object";
    for (const [userId, v] of Object.entries(users)) {
      if (!isValidUserId(userId)) return `Power levels 'users' key '${userId}' is not a valid user ID`;
      if (!isLevel(v)) return `Power level for ${userId} must be an integer`;
    }
  }
  return undefined;
}

/** Own entry of a map-valued property, or undefined. */
function entry(content: Record<string, unknown>, map: string, key: string): unknown {
  const m = content[map];
  return isObject(m) && hasOwn(m, key) ? m[key] : undefined;
}

function keysOf(content: Record<string, unknown>, map: string): string[] {
  const m = content[map];
  return isObject(m) ? Object.keys(m) : [];
}

/**
 * Why `content` may not replace `previous` when sent by `sender` at `senderLevel`, or undefined
 * when it may (rules 9.1-9.10). A level the sender could not set themselves can neither be
 * created, changed nor removed by them; other users' levels at or above the sender's are frozen.
 */
export function checkPowerLevelsChange(
  content: Record<string, unknown>,
  previous: PowerLevelsInput,
  sender: string,
  senderLevel: number,
): string | undefined {
  const shape = powerLevelsShapeError(content);
  if (shape !== undefined) return shape;
  if (previous === undefined) return undefined; // 9.4: the room's first power levels.
  const old = previous as Record<string, unknown>;

  // 9.5: absent values are not compared against the sender (the spec compares only values present).
  for (const key of SCALAR_LEVELS) {
    const before = old[key];
    const after = content[key];
    if (before === after) continue;
    if (isLevel(before) && before > senderLevel) return `Cannot change '${key}' from ${before}: above the sender's level ${senderLevel}`;
    if (isLevel(after) && after > senderLevel) return `Cannot set '${key}' to ${after}: above the sender's level ${senderLevel}`;
  }

  // 9.6 / 9.7: per-event-type and notification levels.
  for (const map of ['events', 'notifications'] as const) {
    for (const key of new Set([...keysOf(old, map), ...keysOf(content, map)])) {
      const before = entry(old, map, key);
      const after = entry(content, map, key);
      if (before === after) continue;
      if (isLevel(before) && before > senderLevel)
        return `Cannot change ${map}.${key} from ${before}: above the sender's level ${senderLevel}`;
      if (isLevel(after) && after > senderLevel) return `Cannot set ${map}.${key} to ${after}: above the sender's level ${senderLevel}`;
    }
  }

  // 9.8 / 9.9: users. The sender may lower their own level, never raise anyone above theirs.
  for (const userId of new Set([...keysOf(old, 'users'), ...keysOf(content, 'users')])) {
    const before = entry(old, 'users', userId);
    const after = entry(content, 'users', userId);
    if (before === after) continue;
    if (userId !== sender && isLevel(before) && before >= senderLevel) {
      return `Cannot change the level of ${userId} (${before}): not below the sender's level ${senderLevel}`;
    }
    if (isLevel(after) && after > senderLevel) return `Cannot give ${userId} level ${after}: above the sender's level ${senderLevel}`;
  }
  return undefined;
}
