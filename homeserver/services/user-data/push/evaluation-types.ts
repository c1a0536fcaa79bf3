import type { PushAction, PushRuleset, RuleKind } from './types.js';

/** The parts of an event push rules look at (a client-format event or a PDU both fit). */
export interface PushEvent {
  type: string;
  sender: string;
  room_id?: string;
  state_key?: string;
  content: Record<string, unknown>;
  [key: string]: unknown;
}

/** Everything about the recipient and the room a compiled ruleset needs; no I/O happens here. */
export interface PushRecipient {
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
}

/** A recipient and, optionally, their ruleset. */
export interface PushContext extends PushRecipient {
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
