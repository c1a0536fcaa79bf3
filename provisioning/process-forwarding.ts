import type { FastifyBaseLogger, FastifyReply } from 'fastify';
import { LoginProcessError } from '../bridges/core/login/index.js';
import type { ProvisioningDeps } from './deps.js';
import { errorAnswer, type Answer } from './errors.js';
import { decodeProcessCall, runProcessCall, type ProcessCall } from './process-calls.js';

/**
 * Login steps and cancels on any worker of a cluster. A process lives in the worker that started
 * it and its id names that worker; a call arriving elsewhere is authenticated where it arrives,
 * then sent with the resolved Matrix user id only (never a token or the shared secret) to the
 * owner, which checks the process is that user's, runs it, and sends back the whole response.
 * The client gets exactly the owner's status and body, as if it had reached the owner.
 */

/** What travels to the owner: the caller as authenticated by the receiving worker, and the call. */
interface ForwardedCall {
  user: string;
  call: ProcessCall;
}

/** Owner gone, stopping or silent: the answer for a process that does not exist (it no longer can be reached). */
const unreachable = (): Answer => errorAnswer(new LoginProcessError('not_found', 'Login process not found'), () => undefined);

/**
 * Runs a call for `user`: here when the process is this worker's (errors go to the plugin's error
 * handler, as for any route), otherwise through the relay to the worker holding it.
 */
export async function callProcess(deps: ProvisioningDeps, user: string, call: ProcessCall, reply: FastifyReply): Promise<unknown> {
  const owner = deps.relay ? deps.processes.remoteWorkerOf(call.processId) : undefined;
  if (!owner || !deps.relay) return runProcessCall(deps.processes, user, call);
  const forwarded: ForwardedCall = { user, call };
  const { status, body } = decodeAnswer(await deps.relay.forward(owner, forwarded)) ?? unreachable();
  return reply.code(status).send(body);
}

/** Answers calls other workers forward here, while the plugin is mounted. Returns the function that stops it. */
export function serveForwardedCalls(deps: ProvisioningDeps, log: FastifyBaseLogger): () => void {
  if (!deps.relay) return () => undefined;
  return deps.relay.serve(async (raw): Promise<Answer> => {
    const forwarded = raw as Partial<ForwardedCall> | null;
    const call = decodeProcessCall(forwarded?.call);
    const user = forwarded?.user;
    const logUnexpected = (err: unknown) => log.error({ err, call: call?.kind }, 'forwarded provisioning call failed');
    if (!call || typeof user !== 'string') return errorAnswer(new Error('malformed forwarded login-process call'), logUnexpected);
    try {
      return { status: 200, body: await runProcessCall(deps.processes, user, call) };
    } catch (err) {
      return errorAnswer(err, logUnexpected);
    }
  });
}

/** The owner's answer as sent, or undefined when there is none (or it is not one). */
function decodeAnswer(raw: unknown): Answer | undefined {
  if (!raw || typeof raw !== 'object') return undefined;
  const { status, body } = raw as Partial<Answer>;
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 200 || status > 599) return undefined;
  if (!body || typeof body !== 'object' || Array.isArray(body)) return undefined;
  return { status, body };
}
