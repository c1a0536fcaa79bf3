import type { LoginStep } from '../network/login-process.js';
import type { UserLoginRecord } from '../storage/user-logins.js';

/** The `complete` step as the registry hands it out: the stored login, never the connector's secrets. */
export interface CompletedStep {
  type: 'complete';
  stepId: string;
  instructions: string;
  login: UserLoginRecord;
}

/**
 * A step as callers of the registry see it. Identical to the connector's LoginStep except for
 * `complete`, whose `CompletedLogin` (with credentials in `secrets`) is replaced by the persisted
 * record: secrets go to `onComplete` and nowhere else.
 */
export type ProcessStep = Exclude<LoginStep, { type: 'complete' }> | CompletedStep;

/** The step types a client can answer (a `complete` step ends the process). */
export type AnswerableStepType = Exclude<LoginStep['type'], 'complete'>;

/** Returned by `LoginProcesses.start`. */
export interface StartedProcess {
  /** Random and unguessable: it is the only handle on the process besides the user's identity. */
  processId: string;
  step: ProcessStep;
}
