import type { Static } from '@sinclair/typebox';
import type { ProcessStep } from '../bridges/core/login/index.js';
import type { BridgeState } from '../bridges/core/network/bridge-state.js';
import type { ResolvedIdentifier as Resolved } from '../bridges/core/network/chat-info.js';
import type { UserLoginRecord } from '../bridges/core/storage/user-logins.js';
import type { ProvisioningDeps } from './deps.js';
import type { LoginStep, ResolvedIdentifier, WhoamiLogin } from './schemas.js';

/** Conversions from the core's camelCase model to mautrix's snake_case wire format. */

export function wireStep(processId: string, step: ProcessStep): Static<typeof LoginStep> {
  const base = { login_id: processId, type: step.type, step_id: step.stepId, instructions: step.instructions };
  switch (step.type) {
    case 'user_input':
      return {
        ...base,
        user_input: {
          fields: step.fields.map((f) => ({
            type: f.type,
            id: f.id,
            name: f.name,
            ...(f.description !== undefined ? { description: f.description } : {}),
            ...(f.pattern !== undefined ? { pattern: f.pattern } : {}),
          })),
        },
      };
    case 'display_and_wait':
      return { ...base, display_and_wait: { type: step.display.type, data: step.display.data } };
    case 'complete':
      // Only the login id: the record's metadata is connector-private.
      return { ...base, complete: { user_login_id: step.login.loginId } };
  }
}

function wireState(state: BridgeState) {
  return {
    state_event: state.stateEvent,
    timestamp: state.timestamp,
    ...(state.error !== undefined ? { error: state.error } : {}),
    ...(state.message !== undefined ? { message: state.message } : {}),
    ...(state.info !== undefined ? { info: state.info } : {}),
  };
}

export function wireWhoamiLogin(login: UserLoginRecord, live: BridgeState | undefined): Static<typeof WhoamiLogin> {
  // The pool's in-memory state is fresher than the row (which is written asynchronously).
  const state = live && live.timestamp >= login.state.timestamp ? live : login.state;
  const profile = login.metadata.profile;
  return {
    id: login.loginId,
    name: login.remoteName,
    profile: profile && typeof profile === 'object' ? (profile as Record<string, unknown>) : {},
    state: wireState(state),
    state_event: state.stateEvent,
    state_ts: state.timestamp,
    ...(state.error !== undefined ? { state_reason: state.error } : {}),
    ...(state.info !== undefined ? { state_info: state.info } : {}),
  };
}

export async function wireResolved(
  deps: ProvisioningDeps,
  login: UserLoginRecord,
  r: Resolved,
): Promise<Static<typeof ResolvedIdentifier>> {
  const identifiers = r.info?.identifiers;
  const mxid = deps.ghostMxid?.(r.userId);
  const room = r.chatId && deps.dmRoomId ? await deps.dmRoomId(login, r.chatId) : undefined;
  return {
    id: r.userId,
    ...(r.info?.name !== undefined ? { name: r.info.name } : {}),
    ...(identifiers?.length ? { identifiers } : {}),
    ...(mxid ? { mxid } : {}),
    ...(room ? { dm_room_mxid: room } : {}),
  };
}
