/** Push rule vocabulary (spec: Client-Server API, "Push Rules"). */

export const RULE_KINDS = ['override', 'content', 'room', 'sender', 'underride'] as const;
export type RuleKind = (typeof RULE_KINDS)[number];

/** `"notify"`, the legacy no-ops `"dont_notify"` / `"coalesce"`, or `{ set_tweak, value? }`. */
export type PushAction = string | { set_tweak: string; value?: unknown; [key: string]: unknown };

export interface PushCondition {
  kind: string;
  key?: string;
  pattern?: string;
  is?: string;
  value?: unknown;
  [key: string]: unknown;
}

export interface PushRule {
  rule_id: string;
  default: boolean;
  enabled: boolean;
  actions: PushAction[];
  /** override and underride rules only. */
  conditions?: PushCondition[];
  /** content rules only. */
  pattern?: string;
}

/** One ruleset (`global`): each kind's rules in priority order, most important first. */
export type PushRuleset = Record<RuleKind, PushRule[]>;

export function isRuleKind(v: string): v is RuleKind {
  return (RULE_KINDS as readonly string[]).includes(v);
}
