import { RULE_KINDS, type PushCondition, type PushRule, type PushRuleset } from './types.js';

/**
 * Everything in a ruleset that a compiled form depends on, in a fixed order: each kind's array and
 * length, each rule's object, flags, id, pattern and conditions array (and length), and each
 * condition's object and parameters. Comparing it with the live ruleset tells whether the ruleset
 * was edited in place since it was compiled: a few hundred identity comparisons, far cheaper than
 * compiling again. Actions are not included: the outcome is read from the live rule when it matches.
 *
 * takeSnapshot and unchangedSince walk in the same order; they are written out separately because
 * a shared walker taking a callback made the check ~20x slower (it runs on every evaluation).
 */
export type RulesetSnapshot = readonly unknown[];

export function takeSnapshot(ruleset: PushRuleset): RulesetSnapshot {
  const out: unknown[] = [];
  for (const kind of RULE_KINDS) {
    const rules = ruleset[kind] as PushRule[] | undefined;
    out.push(rules);
    if (!rules) continue;
    out.push(rules.length);
    for (const rule of rules) {
      out.push(rule, rule.enabled, rule.default, rule.rule_id, rule.pattern, rule.conditions);
      if (!rule.conditions) continue;
      out.push(rule.conditions.length);
      for (const c of rule.conditions) {
        out.push(c);
        if (!isCondition(c)) continue;
        out.push(c.kind);
        switch (c.kind) {
          case 'event_match':
            out.push(c.key, c.pattern);
            break;
          case 'event_property_is':
          case 'event_property_contains':
            out.push(c.key, c.value);
            break;
          case 'room_member_count':
            out.push(c.is);
            break;
          case 'sender_notification_permission':
            out.push(c.key);
            break;
        }
      }
    }
  }
  return out;
}

/** Whether every value the snapshot recorded is still the same (`===`) in the ruleset. */
export function unchangedSince(ruleset: PushRuleset, snapshot: RulesetSnapshot): boolean {
  const s = snapshot;
  let i = 0;
  for (const kind of RULE_KINDS) {
    const rules = ruleset[kind] as PushRule[] | undefined;
    if (rules !== s[i++]) return false;
    if (!rules) continue;
    if (rules.length !== s[i++]) return false;
    for (let r = 0; r < rules.length; r++) {
      const rule = rules[r]!;
      if (rule !== s[i++] || rule.enabled !== s[i++] || rule.default !== s[i++] || rule.rule_id !== s[i++]) return false;
      if (rule.pattern !== s[i++] || rule.conditions !== s[i++]) return false;
      const conditions = rule.conditions;
      if (!conditions) continue;
      if (conditions.length !== s[i++]) return false;
      for (let n = 0; n < conditions.length; n++) {
        const c = conditions[n]!;
        if (c !== s[i++]) return false;
        if (!isCondition(c)) continue;
        if (c.kind !== s[i++]) return false;
        // The same kind as when compiled, so the same parameters follow in the snapshot.
        switch (c.kind) {
          case 'event_match':
            if (c.key !== s[i++] || c.pattern !== s[i++]) return false;
            break;
          case 'event_property_is':
          case 'event_property_contains':
            if (c.key !== s[i++] || c.value !== s[i++]) return false;
            break;
          case 'room_member_count':
            if (c.is !== s[i++]) return false;
            break;
          case 'sender_notification_permission':
            if (c.key !== s[i++]) return false;
            break;
        }
      }
    }
  }
  return i === s.length;
}

function isCondition(c: PushCondition | null): c is PushCondition {
  return typeof c === 'object' && c !== null;
}
