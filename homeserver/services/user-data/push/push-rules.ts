import { MatrixError } from '../../../matrix/errors.js';
import { parseRoomId, parseUserId } from '../../../matrix/ids.js';
import type { Logger } from '../../../runtime/logger.js';
import type { PubSub } from '../../../runtime/ports.js';
import type { Db, Queryable, Tx } from '../../../storage/db.js';
import { PUSH_RULES_TYPE, upsertAccountData } from '../account-data.js';
import { ACCOUNT_DATA_STREAM, wakeAfterCommit, withStreamWrite } from '../streams.js';
import { defaultRuleset } from './default-rules.js';
import type { PushAction, PushCondition, PushRule, PushRuleset, RuleKind } from './types.js';

/** The body of `PUT /pushrules/global/{kind}/{ruleId}`. */
export interface PushRuleBody {
  actions: unknown[];
  conditions?: unknown[];
  pattern?: string;
}

interface RuleRow {
  kind: RuleKind;
  rule_id: string;
  conditions: string | null;
  pattern: string | null;
  actions: string;
  enabled: boolean;
}

const LEGACY_NO_OP_ACTIONS = new Set(['dont_notify', 'coalesce']);

/**
 * A user's push rules (spec: "Push Rules"): the server-default rules, which the user may enable,
 * disable or give other actions but not delete, and the user's own rules, ordered within each kind.
 * Every change is also written as `m.push_rules` global account data in the same transaction, which
 * is how clients learn of it through sync.
 */
export class PushRules {
  constructor(
    private db: Db,
    private pubsub: PubSub,
    private log: Logger,
  ) {}

  /** The complete `global` ruleset: master, user overrides, default overrides, then the other kinds. */
  async ruleset(userId: string, q: Queryable = this.db): Promise<PushRuleset> {
    const [userRules, defaults] = await Promise.all([
      q.query<RuleRow>(
        'SELECT kind, rule_id, conditions, pattern, actions, enabled FROM hs_push_rules WHERE user_id = $1 ORDER BY kind, priority',
        [userId],
      ),
      q.query<{ rule_id: string; enabled: boolean | null; actions: string | null }>(
        'SELECT rule_id, enabled, actions FROM hs_push_rule_defaults WHERE user_id = $1',
        [userId],
      ),
    ]);
    const base = defaultRuleset(userId);
    const changed = new Map(defaults.rows.map((r) => [r.rule_id, r]));
    for (const rules of Object.values(base)) {
      for (const rule of rules) {
        const c = changed.get(rule.rule_id);
        if (c?.enabled !== null && c?.enabled !== undefined) rule.enabled = c.enabled;
        if (c?.actions) rule.actions = JSON.parse(c.actions) as PushAction[];
      }
    }
    const own: Record<RuleKind, PushRule[]> = { override: [], content: [], room: [], sender: [], underride: [] };
    for (const row of userRules.rows) own[row.kind]?.push(toRule(row));
    const [master, ...defaultOverrides] = base.override;
    return {
      override: [master!, ...own.override, ...defaultOverrides],
      content: [...own.content, ...base.content],
      room: own.room,
      sender: own.sender,
      underride: [...own.underride, ...base.underride],
    };
  }

  /** `m.push_rules` account data content. */
  async accountDataContent(userId: string, q: Queryable = this.db): Promise<Record<string, unknown>> {
    return { global: await this.ruleset(userId, q) };
  }

  async get(userId: string, kind: RuleKind, ruleId: string): Promise<PushRule> {
    const rule = (await this.ruleset(userId))[kind].find((r) => r.rule_id === ruleId);
    if (!rule) throw MatrixError.notFound('The push rule was not found.');
    return rule;
  }

  /** Creates or replaces a user-defined rule; `before` / `after` place it next to another user rule. */
  async put(userId: string, kind: RuleKind, ruleId: string, body: PushRuleBody, place: { before?: string; after?: string }): Promise<void> {
    checkRuleId(kind, ruleId);
    const actions = checkActions(body.actions);
    let conditions: PushCondition[] | null = null;
    let pattern: string | null = null;
    if (kind === 'override' || kind === 'underride') conditions = checkConditions(body.conditions ?? []);
    if (kind === 'content') {
      if (typeof body.pattern !== 'string') throw new MatrixError('M_MISSING_PARAM', 'A content rule needs a pattern');
      pattern = body.pattern;
    }
    for (const anchor of [place.before, place.after]) {
      if (anchor?.startsWith('.')) throw MatrixError.invalidParam('A rule cannot be placed relative to a server-default rule');
    }

    await this.change(userId, async (tx) => {
      const { rows } = await tx.query<{ rule_id: string }>(
        'SELECT rule_id FROM hs_push_rules WHERE user_id = $1 AND kind = $2 ORDER BY priority FOR UPDATE',
        [userId, kind],
      );
      const order = rows.map((r) => r.rule_id);
      const existing = order.indexOf(ruleId);
      if (existing >= 0) order.splice(existing, 1);
      let at: number;
      const anchor = place.before ?? place.after;
      if (anchor !== undefined) {
        const i = order.indexOf(anchor);
        if (i < 0) throw new MatrixError('M_UNKNOWN', `before/after rule not found: ${anchor}`, 400);
        at = place.before !== undefined ? i : i + 1;
      } else {
        // A new rule is the most important of its kind; an updated one keeps its place.
        at = existing >= 0 ? existing : 0;
      }
      order.splice(at, 0, ruleId);
      await tx.query(
        `INSERT INTO hs_push_rules (user_id, kind, rule_id, priority, conditions, pattern, actions, enabled)
         VALUES ($1, $2, $3, $4, $5, $6, $7, true)
         ON CONFLICT (user_id, kind, rule_id) DO UPDATE SET
           conditions = EXCLUDED.conditions, pattern = EXCLUDED.pattern, actions = EXCLUDED.actions`,
        [userId, kind, ruleId, at, conditions && JSON.stringify(conditions), pattern, JSON.stringify(actions)],
      );
      await tx.query(
        `UPDATE hs_push_rules r SET priority = o.priority FROM unnest($3::text[]) WITH ORDINALITY AS o(rule_id, priority)
         WHERE r.user_id = $1 AND r.kind = $2 AND r.rule_id = o.rule_id`,
        [userId, kind, order],
      );
    });
  }

  /** Deletes a user-defined rule; server-default rules cannot be deleted (only disabled). */
  async delete(userId: string, kind: RuleKind, ruleId: string): Promise<void> {
    if (ruleId.startsWith('.')) {
      await this.get(userId, kind, ruleId); // 404 for an unknown default rule
      throw MatrixError.invalidParam('Server-default rules cannot be deleted');
    }
    await this.change(userId, async (tx) => {
      const r = await tx.query('DELETE FROM hs_push_rules WHERE user_id = $1 AND kind = $2 AND rule_id = $3', [userId, kind, ruleId]);
      if (r.rowCount === 0) throw MatrixError.notFound('The push rule was not found.');
    });
  }

  setEnabled(userId: string, kind: RuleKind, ruleId: string, enabled: boolean): Promise<void> {
    return this.setField(userId, kind, ruleId, 'enabled', enabled);
  }

  setActions(userId: string, kind: RuleKind, ruleId: string, actions: unknown[]): Promise<void> {
    return this.setField(userId, kind, ruleId, 'actions', JSON.stringify(checkActions(actions)));
  }

  private async setField(userId: string, kind: RuleKind, ruleId: string, field: 'enabled' | 'actions', value: boolean | string) {
    await this.change(userId, async (tx) => {
      if (ruleId.startsWith('.')) {
        if (!defaultRuleset(userId)[kind].some((r) => r.rule_id === ruleId)) throw MatrixError.notFound('The push rule was not found.');
        await tx.query(
          `INSERT INTO hs_push_rule_defaults (user_id, rule_id, ${field}) VALUES ($1, $2, $3)
           ON CONFLICT (user_id, rule_id) DO UPDATE SET ${field} = EXCLUDED.${field}`,
          [userId, ruleId, value],
        );
        return;
      }
      const r = await tx.query(`UPDATE hs_push_rules SET ${field} = $4 WHERE user_id = $1 AND kind = $2 AND rule_id = $3`, [
        userId,
        kind,
        ruleId,
        value,
      ]);
      if (r.rowCount === 0) throw MatrixError.notFound('The push rule was not found.');
    });
  }

  /** Applies a change and republishes the whole ruleset as m.push_rules account data, atomically. */
  private async change(userId: string, fn: (tx: Tx) => Promise<void>): Promise<void> {
    await withStreamWrite(this.db, ACCOUNT_DATA_STREAM, async (tx) => {
      await fn(tx);
      const position = await upsertAccountData(tx, userId, null, PUSH_RULES_TYPE, await this.accountDataContent(userId, tx));
      wakeAfterCommit(tx, this.pubsub, this.log, { stream: ACCOUNT_DATA_STREAM, position, userIds: [userId] });
    });
  }
}

function toRule(row: RuleRow): PushRule {
  const rule: PushRule = { rule_id: row.rule_id, default: false, enabled: row.enabled, actions: JSON.parse(row.actions) as PushAction[] };
  if (row.kind === 'override' || row.kind === 'underride')
    rule.conditions = row.conditions ? (JSON.parse(row.conditions) as PushCondition[]) : [];
  if (row.kind === 'content' && row.pattern !== null) rule.pattern = row.pattern;
  return rule;
}

function checkRuleId(kind: RuleKind, ruleId: string): void {
  if (ruleId.startsWith('.')) throw MatrixError.invalidParam("Rule ids starting with '.' are reserved for server-default rules");
  if (ruleId.includes('/') || ruleId.includes('\\')) throw MatrixError.invalidParam('Rule ids may not contain slashes or backslashes');
  // Room and sender rules are named after the room or user they apply to.
  if (kind === 'room') parseRoomId(ruleId);
  if (kind === 'sender') parseUserId(ruleId);
}

function checkActions(actions: unknown[]): PushAction[] {
  for (const a of actions) {
    if (typeof a === 'string') {
      if (a !== 'notify' && !LEGACY_NO_OP_ACTIONS.has(a)) throw MatrixError.invalidParam(`Unrecognised action: ${a}`);
    } else if (typeof a !== 'object' || a === null || Array.isArray(a) || typeof (a as { set_tweak?: unknown }).set_tweak !== 'string') {
      throw MatrixError.invalidParam('An action is a string or an object with a set_tweak');
    }
  }
  return actions as PushAction[];
}

function checkConditions(conditions: unknown[]): PushCondition[] {
  for (const c of conditions) {
    if (typeof c !== 'object' || c === null || Array.isArray(c) || typeof (c as { kind?: unknown }).kind !== 'string')
      throw MatrixError.badJson('A condition is an object with a kind');
  }
  return conditions as PushCondition[];
}
