import { notificationLevel } from '../../../matrix/power-levels.js';
import type { PushEvent, PushRecipient } from './evaluation-types.js';
import { wholeGlobRegex, wordGlobRegex } from './glob-regex.js';
import { literalWordTest } from './word-match.js';
import { splitPath, valueAtPath } from './property-path.js';
import type { PushCondition } from './types.js';

/** One push rule condition, with its path split and its regex built, as a test of an event. */
export type ConditionMatcher = (event: PushEvent, recipient: PushRecipient) => boolean;

/** What unknown kinds and malformed parameters compile to (spec: such conditions never match). */
export const NEVER: ConditionMatcher = () => false;

const BODY_PATH = ['content', 'body'] as const;

/** Compiles one condition; every check that depends only on the condition is done here, once. */
export function compileCondition(c: PushCondition): ConditionMatcher {
  // Stored conditions are checked to be objects; anything else cannot match (rather than throw).
  if (typeof c !== 'object' || c === null) return NEVER;
  switch (c.kind) {
    case 'event_match':
      return typeof c.key === 'string' && typeof c.pattern === 'string' ? eventMatcher(c.key, c.pattern) : NEVER;
    case 'event_property_is': {
      if (typeof c.key !== 'string' || !isScalar(c.value)) return NEVER;
      const path = splitPath(c.key);
      const want = c.value;
      // `want` is a scalar, so strict equality already implies the value is one too.
      return (event) => valueAtPath(event, path) === want;
    }
    case 'event_property_contains': {
      if (typeof c.key !== 'string' || !isScalar(c.value)) return NEVER;
      const path = splitPath(c.key);
      const want = c.value;
      return (event) => {
        const v = valueAtPath(event, path);
        return Array.isArray(v) && v.includes(want);
      };
    }
    case 'contains_display_name':
      return (event, recipient) => {
        const name = recipient.displayName;
        // A display name read from a member event may be any JSON value: only a string is one.
        if (!name || typeof name !== 'string') return false;
        const body = valueAtPath(event, BODY_PATH);
        return typeof body === 'string' && displayNameTest(name)(body);
      };
    case 'room_member_count': {
      const matches = typeof c.is === 'string' ? memberCountTest(c.is) : undefined;
      return matches ? (_, recipient) => matches(recipient.roomMemberCount) : NEVER;
    }
    case 'sender_notification_permission': {
      if (typeof c.key !== 'string') return NEVER;
      const key = c.key;
      return (_, recipient) => recipient.senderPowerLevel >= notificationLevel({ notifications: recipient.notificationLevels ?? {} }, key);
    }
    default:
      return NEVER;
  }
}

/**
 * `event_match`: a case-insensitive glob over the whole string value at `key`; for `content.body`
 * the glob may match any substring that starts and ends at a word boundary.
 */
export function eventMatcher(key: string, pattern: string): (event: PushEvent) => boolean {
  const path = splitPath(key);
  if (key === 'content.body') {
    if (!pattern.includes('*') && !pattern.includes('?')) {
      const test = literalWordTest(pattern);
      return (event) => {
        const v = valueAtPath(event, path);
        return typeof v === 'string' && test(v);
      };
    }
    const re = wordGlobRegex(pattern);
    return (event) => {
      const v = valueAtPath(event, path);
      return typeof v === 'string' && re.test(v);
    };
  }
  const re = wholeGlobRegex(pattern);
  if (isAsciiLiteral(pattern)) {
    // Most patterns (event types, msgtypes) are plain ASCII. Under case-insensitive Unicode
    // matching each ASCII character matches only ASCII letters/digits/signs or U+017F / U+212A,
    // all single UTF-16 units, so a value of another length cannot match: reject it without the regex.
    const length = pattern.length;
    return (event) => {
      const v = valueAtPath(event, path);
      return typeof v === 'string' && v.length === length && (v === pattern || re.test(v));
    };
  }
  return (event) => {
    const v = valueAtPath(event, path);
    return typeof v === 'string' && re.test(v);
  };
}

// Per display name, shared by every recipient who has it; bounded like the regex caches.
const displayNameTests = new Map<string, (body: string) => boolean>();

function displayNameTest(name: string): (body: string) => boolean {
  let test = displayNameTests.get(name);
  if (!test) {
    test = literalWordTest(name);
    if (displayNameTests.size >= 2000) displayNameTests.delete(displayNameTests.keys().next().value!);
    displayNameTests.set(name, test);
  }
  return test;
}

/** `is` is a decimal integer optionally prefixed by ==, <, >, >= or <=; undefined when malformed. */
export function memberCountTest(is: string): ((count: number) => boolean) | undefined {
  const m = /^(==|<=|>=|<|>)?([0-9]+)$/.exec(is);
  if (!m) return undefined;
  const n = Number(m[2]);
  switch (m[1] ?? '==') {
    case '<':
      return (count) => count < n;
    case '>':
      return (count) => count > n;
    case '<=':
      return (count) => count <= n;
    case '>=':
      return (count) => count >= n;
    default:
      return (count) => count === n;
  }
}

/** No glob characters and nothing outside ASCII printable characters. */
function isAsciiLiteral(pattern: string): boolean {
  return /^[\x20-\x7e]*$/.test(pattern) && !pattern.includes('*') && !pattern.includes('?');
}

/** Non-compound canonical JSON values: strings, safe integers, booleans and null. */
function isScalar(v: unknown): v is string | number | boolean | null {
  return v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isSafeInteger(v));
}
