import type { LoginProcesses } from '../bridges/core/login/index.js';
import { wireStep } from './wire.js';

/**
 * The calls on a running login process, as data: a route builds one from its request, and the
 * same object is run here or sent to the worker holding the process (call-forwarding.ts), so
 * both paths run exactly this code.
 */
export type ProcessCall =
  | { kind: 'user_input'; processId: string; stepId: string; input: Record<string, string> }
  | { kind: 'display_and_wait'; processId: string; stepId: string }
  | { kind: 'cancel'; processId: string };

/** Runs a call on this worker's processes for `user` (who must own the process) and returns the response body. */
export async function runProcessCall(processes: LoginProcesses, user: string, call: ProcessCall): Promise<Record<string, unknown>> {
  switch (call.kind) {
    case 'user_input':
      return wireStep(call.processId, await processes.submitUserInput(user, call.processId, call.stepId, call.input));
    case 'display_and_wait':
      return wireStep(call.processId, await processes.wait(user, call.processId, call.stepId));
    case 'cancel':
      processes.cancel(user, call.processId);
      return {};
  }
}

const isString = (v: unknown): v is string => typeof v === 'string';

/**
 * Checks a call that arrived from another worker (through Redis, maybe from another version of
 * the program): the receiving worker validated the HTTP request, this only refuses what could
 * not have come from one.
 */
export function decodeProcessCall(raw: unknown): ProcessCall | undefined {
  if (!raw || typeof raw !== 'object') return undefined;
  const c = raw as Record<string, unknown>;
  if (!isString(c.processId)) return undefined;
  switch (c.kind) {
    case 'cancel':
      return { kind: 'cancel', processId: c.processId };
    case 'display_and_wait':
      return isString(c.stepId) ? { kind: 'display_and_wait', processId: c.processId, stepId: c.stepId } : undefined;
    case 'user_input': {
      const input = c.input;
      if (!isString(c.stepId) || !input || typeof input !== 'object' || Array.isArray(input)) return undefined;
      if (!Object.values(input).every(isString)) return undefined;
      return { kind: 'user_input', processId: c.processId, stepId: c.stepId, input: input as Record<string, string> };
    }
    default:
      return undefined;
  }
}
