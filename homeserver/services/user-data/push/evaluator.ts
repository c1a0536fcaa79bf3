import { compileCondition, eventMatcher, memberCountTest } from './compiled-condition.js';
import { compiledDefaultRuleset, compileRuleset } from './compiled-ruleset.js';
import type { PushContext, PushEvaluation, PushEvent } from './evaluation-types.js';
import { wholeGlobRegex } from './glob-regex.js';
import type { PushCondition } from './types.js';

export type { PushContext, PushEvaluation, PushEvent, PushRecipient } from './evaluation-types.js';
export { compileRuleset, compiledDefaultRuleset, type CompiledRuleset } from './compiled-ruleset.js';
export { globSource } from './glob-regex.js';
export { propertyAt, splitPath } from './property-path.js';

/**
 * Runs the recipient's push rules over an event (spec: "Push Rules"): kinds in the order
 * override, content, room, sender, underride; within a kind the first enabled rule whose
 * conditions all hold decides. Events the user sent themselves never notify. The rules the spec
 * deprecated in favour of `m.mentions` are skipped for events that carry `m.mentions`.
 *
 * The ruleset is compiled on first use and the compiled form reused while the ruleset object is
 * unchanged (see compileRuleset); callers evaluating many events for one ruleset may also hold
 * `compileRuleset(ruleset)` and call its `evaluate` directly.
 */
export function evaluatePushRules(event: PushEvent, ctx: PushContext): PushEvaluation {
  const compiled = ctx.ruleset ? compileRuleset(ctx.ruleset) : compiledDefaultRuleset(ctx.userId);
  return compiled.evaluate(event, ctx);
}

/** One condition, compiled on each call (for one-off checks; rulesets are compiled once instead). */
export function conditionMatches(c: PushCondition, event: PushEvent, ctx: PushContext): boolean {
  return compileCondition(c)(event, ctx);
}

/** `event_match` of one key and pattern (see eventMatcher). */
export function eventMatch(event: PushEvent, key: string, pattern: string): boolean {
  return eventMatcher(key, pattern)(event);
}

/** `room_member_count`: `is` is a decimal integer optionally prefixed by ==, <, >, >= or <=. */
export function memberCountMatches(is: string, count: number): boolean {
  return memberCountTest(is)?.(count) ?? false;
}

/** Whether `glob` matches the whole of `value`, case-insensitively. */
export function globMatches(glob: string, value: string): boolean {
  return wholeGlobRegex(glob).test(value);
}
