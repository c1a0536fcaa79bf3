import { defaultRuleset, LEGACY_MENTION_RULES } from './default-rules.js';
import { compileCondition, NEVER, type ConditionMatcher } from './compiled-condition.js';
import type { PushEvaluation, PushEvent, PushRecipient } from './evaluation-types.js';
import { isObject } from './property-path.js';
import { takeSnapshot, unchangedSince, type RulesetSnapshot } from './ruleset-snapshot.js';
import { RULE_KINDS, type PushRule, type PushRuleset, type RuleKind } from './types.js';

const NO_MATCH: PushEvaluation = { notify: false, highlight: false, actions: [], tweaks: {} };
const ALWAYS: ConditionMatcher = () => true;

interface CompiledRule {
  rule: PushRule;
  kind: RuleKind;
  /** A server-default rule the spec deprecated in favour of `m.mentions`. */
  legacyMention: boolean;
  matches: ConditionMatcher;
}

/**
 * A ruleset flattened into one list of its enabled rules in evaluation order (override, content,
 * room, sender, underride), each with its conditions compiled, so evaluating an event does no
 * parsing, path splitting or regex building.
 */
export class CompiledRuleset {
  constructor(private readonly rules: readonly CompiledRule[]) {}

  /**
   * Spec "Push Rules": the first enabled rule whose conditions all hold decides. Events the
   * recipient sent never notify; legacy mention rules are skipped for events with `m.mentions`.
   */
  evaluate(event: PushEvent, recipient: PushRecipient): PushEvaluation {
    if (event.sender === recipient.userId) return NO_MATCH;
    let hasMentions: boolean | undefined;
    for (const r of this.rules) {
      if (r.legacyMention && (hasMentions ??= contentHasMentions(event))) continue;
      if (r.matches(event, recipient)) return outcome(r.rule, r.kind);
    }
    return NO_MATCH;
  }
}

const compiledByRuleset = new WeakMap<PushRuleset, { compiled: CompiledRuleset; snapshot: RulesetSnapshot }>();

/**
 * The compiled form of `ruleset`, cached by object identity. Rulesets are plain objects a caller
 * may still edit in place (enable a rule, change a pattern), so a cached form is only reused while
 * the ruleset still matches the snapshot taken when it was compiled.
 */
export function compileRuleset(ruleset: PushRuleset): CompiledRuleset {
  const hit = compiledByRuleset.get(ruleset);
  if (hit && unchangedSince(ruleset, hit.snapshot)) return hit.compiled;
  const compiled = build(ruleset);
  compiledByRuleset.set(ruleset, { compiled, snapshot: takeSnapshot(ruleset) });
  return compiled;
}

const compiledDefaults = new Map<string, CompiledRuleset>();
const DEFAULTS_LIMIT = 1000;

/** The server defaults of a user, compiled (the ruleset object stays private here, so it is never edited). */
export function compiledDefaultRuleset(userId: string): CompiledRuleset {
  let compiled = compiledDefaults.get(userId);
  if (!compiled) {
    compiled = build(defaultRuleset(userId));
    if (compiledDefaults.size >= DEFAULTS_LIMIT) compiledDefaults.delete(compiledDefaults.keys().next().value!);
    compiledDefaults.set(userId, compiled);
  }
  return compiled;
}

function build(ruleset: PushRuleset): CompiledRuleset {
  const rules: CompiledRule[] = [];
  for (const kind of RULE_KINDS) {
    for (const rule of ruleset[kind] ?? []) {
      if (!rule.enabled) continue;
      const matches = ruleMatcher(kind, rule);
      // A rule that can never match can never decide: leave it out.
      if (matches === NEVER) continue;
      rules.push({ rule, kind, legacyMention: rule.default && LEGACY_MENTION_RULES.has(rule.rule_id), matches });
    }
  }
  return new CompiledRuleset(rules);
}

function ruleMatcher(kind: RuleKind, rule: PushRule): ConditionMatcher {
  switch (kind) {
    case 'override':
    case 'underride':
      return allOf((rule.conditions ?? []).map(compileCondition));
    case 'content':
      return typeof rule.pattern === 'string'
        ? compileCondition({ kind: 'event_match', key: 'content.body', pattern: rule.pattern })
        : NEVER;
    case 'room': {
      const roomId = rule.rule_id;
      return (event) => event.room_id === roomId;
    }
    case 'sender': {
      const sender = rule.rule_id;
      return (event) => event.sender === sender;
    }
  }
}

function allOf(matchers: ConditionMatcher[]): ConditionMatcher {
  if (matchers.includes(NEVER)) return NEVER;
  if (matchers.length === 0) return ALWAYS;
  if (matchers.length === 1) return matchers[0]!;
  if (matchers.length === 2) {
    const [a, b] = matchers as [ConditionMatcher, ConditionMatcher];
    return (event, recipient) => a(event, recipient) && b(event, recipient);
  }
  return (event, recipient) => {
    for (const m of matchers) if (!m(event, recipient)) return false;
    return true;
  };
}

function contentHasMentions(event: PushEvent): boolean {
  return isObject(event.content) && Object.prototype.hasOwnProperty.call(event.content, 'm.mentions');
}

/** The matching rule's verdict, read from its live actions (a fresh object: callers may keep it). */
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
