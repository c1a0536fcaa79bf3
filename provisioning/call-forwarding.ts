import type { FastifyBaseLogger, FastifyReply } from 'fastify';
import { LoginProcessError } from '../bridges/core/login/index.js';
import { loginId } from '../bridges/core/network/ids.js';
import type { ProvisioningDeps } from './deps.js';
import { errorAnswer, type Answer } from './errors.js';
import { decodeLoginCall, notRunning, runLoginCall, type LoginCall } from './login-calls.js';
import { decodeProcessCall, runProcessCall, type ProcessCall } from './process-calls.js';

/**
 * Calls that need live state of one worker, answered by any worker of a cluster: steps and
 * cancels of a login process (it lives in the worker that started it, which its id names) and
 * contacts / resolve_identifier / create_dm of a login (its network client runs in the worker
 * holding its lease, which the lease row names). A call arriving elsewhere is authenticated where
 * it arrives, then sent with the resolved Matrix user id only (never a token or the shared
 * secret) to that worker, which checks the process or login is that user's, runs it, and sends
 * back the whole response. The client gets exactly its status and body, as if it had reached it.
 */

/** What travels to the owner: the caller as authenticated by the receiving worker, and the call. */
interface ForwardedCall {
  user: string;
  call: ProcessCall | LoginCall;
}

/** Owner gone, stopping or silent: the answer for a process that does not exist (it no longer can be reached). */
const processUnreachable = (): Answer => errorAnswer(new LoginProcessError('not_found', 'Login process not found'), () => undefined);

/** Holder gone, stopping or silent: as when no worker runs the login (its lease will expire and be taken over). */
const loginUnreachable = (): Answer => errorAnswer(notRunning(), () => undefined);

/**
 * Runs a process call for `user`: here when the process is this worker's (errors go to the
 * plugin's error handler, as for any route), otherwise through the relay to the worker holding it.
 */
export async function callProcess(deps: ProvisioningDeps, user: string, call: ProcessCall, reply: FastifyReply): Promise<unknown> {
  const owner = deps.relay ? deps.processes.remoteWorkerOf(call.processId) : undefined;
  if (!owner || !deps.relay) return runProcessCall(deps.processes, user, call);
  return send(reply, decodeAnswer(await deps.relay.forward(owner, { user, call } satisfies ForwardedCall)) ?? processUnreachable());
}

/**
 * Runs a login call for `user`: here when the login's session runs in this process, otherwise
 * through the relay to the live worker holding its lease; 503 when no worker holds it (the
 * session is starting or its lease expired) or the holder does not answer in time.
 */
export async function callLogin(deps: ProvisioningDeps, user: string, call: LoginCall, reply: FastifyReply): Promise<unknown> {
  if (deps.client(loginId(call.loginId)) || !deps.relay || !deps.loginHolder) return send(reply, await runLoginCall(deps, user, call));
  const holder = await deps.loginHolder(loginId(call.loginId));
  // This worker holding the lease without a client is a session starting or reconnecting here.
  if (!holder || holder === deps.processes.workerToken) return send(reply, await runLoginCall(deps, user, call));
  return send(reply, decodeAnswer(await deps.relay.forward(holder, { user, call } satisfies ForwardedCall)) ?? loginUnreachable());
}

function send(reply: FastifyReply, { status, body }: Answer): FastifyReply {
  return reply.code(status).send(body);
}

/** Answers calls other workers forward here, while the plugin is mounted. Returns the function that stops it. */
export function serveForwardedCalls(deps: ProvisioningDeps, log: FastifyBaseLogger): () => void {
  if (!deps.relay) return () => undefined;
  return deps.relay.serve(async (raw): Promise<Answer> => {
    const forwarded = raw as Partial<ForwardedCall> | null;
    const call = decodeProcessCall(forwarded?.call) ?? decodeLoginCall(forwarded?.call);
    const user = forwarded?.user;
    const logUnexpected = (err: unknown) => log.error({ err, call: call?.kind }, 'forwarded provisioning call failed');
    if (!call || typeof user !== 'string') return errorAnswer(new Error('malformed forwarded provisioning call'), logUnexpected);
    try {
      // Run here and never forwarded again: a login this worker no longer runs is answered 503.
      if ('loginId' in call) return await runLoginCall(deps, user, call);
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
