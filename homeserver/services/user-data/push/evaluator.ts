import { notificationLevel } from '../../../matrix/power-levels.js';
import { defaultRuleset, LEGACY_MENTION_RULES } from './default-rules.js';
import { RULE_KINDS, type PushAction, type PushCondition, type PushRule, type PushRuleset, type RuleKind } from './types.js';

/** The parts of an event push rules look at (a client-format event or a PDU both fit). */
export interface PushEvent {
  type: string;
  sender: string;
  room_id?: string;
  state_key?: string;
  content: Record<string, unknown>;
  [key: string]: unknown;
}

/** Everything about the recipient and the room the evaluation needs; no I/O happens here. */
export interface PushContext {
  /** The user whose rules are evaluated (the would-be recipient). */
  userId: string;
  /** The recipient's display name in the room (for `contains_display_name`). */
  displayName?: string | null;
  /** Joined members of the room (for `room_member_count`). */
  roomMemberCount: number;
  /** The sender's power level in the room (for `sender_notification_permission`). */
  senderPowerLevel: number;
  /** `content.notifications` of the room's m.room.power_levels (absent keys default to 50). */
  notificationLevels?: Record<string, unknown>;
  /** The recipient's ruleset (PushRules.ruleset); the server defaults when absent. */
  ruleset?: PushRuleset;
}

export interface PushEvaluation {
  notify: boolean;
  highlight: boolean;
  /** Actions of the matching rule ([] when none matched). */
  actions: PushAction[];
  /** Every set_tweak of those actions (`highlight` without a value is true). */
  tweaks: Record<string, unknown>;
  ruleId?: string;
  kind?: RuleKind;
}

const NO_MATCH: PushEvaluation = { notify: false, highlight: false, actions: [], tweaks: {} };

/**
 * Runs the recipient's push rules over an event (spec: "Push Rules"): kinds in the order
 * override, content, room, sender, underride; within a kind the first enabled rule whose
 * conditions all hold decides. Events the user sent themselves never notify. The rules the spec
 * deprecated in favour of `m.mentions` are skipped for events that carry `m.mentions`.
 */
export function evaluatePushRules(event: PushEvent, ctx: PushContext): PushEvaluation {
  if (event.sender === ctx.userId) return NO_MATCH;
  const ruleset = ctx.ruleset ?? defaultRuleset(ctx.userId);
  const hasMentions = isObject(event.content) && Object.prototype.hasOwnProperty.call(event.content, 'm.mentions');
  for (const kind of RULE_KINDS) {
    for (const rule of ruleset[kind] ?? []) {
      if (!rule.enabled) continue;
      if (hasMentions && rule.default && LEGACY_MENTION_RULES.has(rule.rule_id)) continue;
      if (!ruleMatches(kind, rule, event, ctx)) continue;
      return outcome(rule, kind);
    }
  }
  return NO_MATCH;
}

function outcome(rule: PushRule, kind: RuleKind): PushEvaluation {
  const tweaks: Record<string, unknown> = {};
  let notify = false;
  for (const a of rule.actions) {
    if (a === 'notify') notify = true;
    else if (isObject(a) && typeof a.set_tweak === 'string')
      tweaks[a.set_tweak] = a.set_tweak === 'highlight' && !('value' in a) ? true : a.value;
  }
  return { notify, highlight: notify && tweaks.highlight === true, actions: rule.actions, tweaks, ruleId: rule.rule_id, kind };
}

function ruleMatches(kind: RuleKind, rule: PushRule, event: PushEvent, ctx: PushContext): boolean {
  switch (kind) {
    case 'override':
    case 'underride':
      return (rule.conditions ?? []).every((c) => conditionMatches(c, event, ctx));
    case 'content':
      return typeof rule.pattern === 'string' && eventMatch(event, 'content.body', rule.pattern);
    case 'room':
      return event.room_id === rule.rule_id;
    case 'sender':
      return event.sender === rule.rule_id;
  }
}

/** One condition; unknown kinds and malformed parameters never match (spec). */
export function conditionMatches(c: PushCondition, event: PushEvent, ctx: PushContext): boolean {
  switch (c.kind) {
    case 'event_match':
      return typeof c.key === 'string' && typeof c.pattern === 'string' && eventMatch(event, c.key, c.pattern);
    case 'event_property_is': {
      if (typeof c.key !== 'string' || !isScalar(c.value)) return false;
      const v = propertyAt(event, c.key);
      return isScalar(v) && v === c.value;
    }
    case 'event_property_contains': {
      if (typeof c.key !== 'string' || !isScalar(c.value)) return false;
      const v = propertyAt(event, c.key);
      return Array.isArray(v) && v.some((item) => isScalar(item) && item === c.value);
    }
    case 'contains_display_name': {
      const body = propertyAt(event, 'content.body');
      if (!ctx.displayName || typeof body !== 'string') return false;
      return wordRegex(escapeRegex(ctx.displayName)).test(body);
    }
    case 'room_member_count':
      return typeof c.is === 'string' && memberCountMatches(c.is, ctx.roomMemberCount);
    case 'sender_notification_permission': {
      if (typeof c.key !== 'string') return false;
      return ctx.senderPowerLevel >= notificationLevel({ notifications: ctx.notificationLevels ?? {} }, c.key);
    }
    default:
      return false;
  }
}

/**
 * `event_match`: a case-insensitive glob over the whole string value at `key`; for `content.body`
 * the glob may match any substring that starts and ends at a word boundary.
 */
export function eventMatch(event: PushEvent, key: string, pattern: string): boolean {
  const value = propertyAt(event, key);
  if (typeof value !== 'string') return false;
  return (key === 'content.body' ? wordRegex(globSource(pattern)) : wholeRegex(pattern)).test(value);
}

/** `is` is a decimal integer optionally prefixed by ==, <, >, >= or <=. */
export function memberCountMatches(is: string, count: number): boolean {
  const m = /^(==|<=|>=|<|>)?([0-9]+)$/.exec(is);
  if (!m) return false;
  const n = Number(m[2]);
  switch (m[1] ?? '==') {
    case '<':
      return count < n;
    case '>':
      return count > n;
    case '<=':
      return count <= n;
    case '>=':
      return count >= n;
    default:
      return count === n;
  }
}

/**
 * Splits a dot-separated property path (appendix "Dot-separated property paths"): `.` separates
 * keys, `\.` is a literal dot and `\\` a literal backslash; any other backslash is kept as is.
 */
export function splitPath(key: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < key.length; i++) {
    const ch = key[i]!;
    const next = key[i + 1];
    if (ch === '\\' && (next === '.' || next === '\\')) {
      current += next;
      i++;
    } else if (ch === '.') {
      parts.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  parts.push(current);
  return parts;
}

/** The value at a dot-separated path, descending through objects only; undefined when absent. */
export function propertyAt(event: unknown, key: string): unknown {
  let v: unknown = event;
  for (const part of splitPath(key)) {
    if (!isObject(v) || !Object.prototype.hasOwnProperty.call(v, part)) return undefined;
    v = v[part];
  }
  return v;
}

/** Glob (appendix "Glob-style matching": `*` any run of characters, `?` exactly one) as regex source. */
export function globSource(glob: string): string {
  let out = '';
  for (const ch of glob) {
    if (ch === '*') out += '[\\s\\S]*';
    else if (ch === '?') out += '[\\s\\S]';
    else out += escapeRegex(ch);
  }
  return out;
}

/** Whether `glob` matches the whole of `value`, case-insensitively. */
export function globMatches(glob: string, value: string): boolean {
  return wholeRegex(glob).test(value);
}

// Compiled patterns are cached: the same few rules run over every event.
const cache = new Map<string, RegExp>();
const CACHE_LIMIT = 2000;

function cached(key: string, build: () => string): RegExp {
  let re = cache.get(key);
  if (!re) {
    re = new RegExp(build(), 'iu');
    if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
    cache.set(key, re);
  }
  return re;
}

function wholeRegex(glob: string): RegExp {
  return cached(`w\u0000${glob}`, () => `^(?:${globSource(glob)})$`);
}

/** Word boundary: start or end of the value, or a character outside [A-Za-z0-9_]. */
function wordRegex(source: string): RegExp {
  return cached(`b\u0000${source}`, () => `(?:^|[^A-Za-z0-9_])(?:${source})(?:[^A-Za-z0-9_]|$)`);
}

function escapeRegex(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Non-compound canonical JSON values: strings, safe integers, booleans and null. */
function isScalar(v: unknown): v is string | number | boolean | null {
  return v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isSafeInteger(v));
}
