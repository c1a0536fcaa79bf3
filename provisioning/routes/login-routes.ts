import { Type } from '@sinclair/typebox';
import type { ProvisioningDeps } from '../deps.js';
import { ProvisioningError } from '../errors.js';
import { userOf } from '../auth.js';
import { callProcess } from '../call-forwarding.js';
import { AUTH_ERRORS, NETWORK_ERRORS, err, type RouteTable } from '../route-table.js';
import { EmptyObject, LoginFlowsResponse, LoginStep, ProcessParams, StepParams, UserIdQuery, UserInputBody } from '../schemas.js';
import { wireStep } from '../wire.js';

const STEP_ERRORS = {
  ...AUTH_ERRORS,
  ...NETWORK_ERRORS,
  400: err('M_BAD_STATE: step id or type is not the current step’s; M_BAD_JSON: bad body; or the connector’s LoginError code'),
  404: err('M_NOT_FOUND: unknown, foreign, cancelled, completed or expired login process, or its worker is gone'),
  409: err('IO.CAUSEWAY_LOGIN_STEP_IN_PROGRESS: another submission for this process is running'),
};

/**
 * The login-process endpoints: flows, start, the two answerable step types, cancel. Steps and
 * cancel may reach a worker other than the process's: callProcess forwards them there.
 */
export function loginRoutes(table: RouteTable, deps: ProvisioningDeps): void {
  const { processes } = deps;

  /** `GET /_matrix/provision/v3/login/flows` — the connector's login flows. */
  table.add(
    {
      method: 'GET',
      url: '/login/flows',
      operationId: 'getLoginFlows',
      summary: 'Get the available login flows',
      tags: ['auth'],
      querystring: UserIdQuery,
      responses: { 200: { description: 'The flows', schema: LoginFlowsResponse }, ...AUTH_ERRORS },
    },
    async () => ({ flows: processes.flows() }),
  );

  /**
   * `POST /_matrix/provision/v3/login/start/{flowId}` — starts a process, returns its first step.
   * mautrix's `?login_id=` (re-login replacing a login) is not supported: logging in again with
   * the same account keeps its login id, which the store upserts.
   */
  table.add(
    {
      method: 'POST',
      url: '/login/start/:flowId',
      operationId: 'startLogin',
      summary: 'Start a new login process',
      tags: ['auth'],
      params: Type.Object({ flowId: Type.String({ description: 'A flow id from /login/flows' }) }),
      querystring: UserIdQuery,
      responses: {
        200: { description: 'The first step', schema: LoginStep },
        ...AUTH_ERRORS,
        ...NETWORK_ERRORS,
        400: err('FI.MAU.BRIDGE.TOO_MANY_LOGINS, or the connector’s LoginError code'),
        404: err('M_NOT_FOUND: invalid login flow ID'),
        429: err('M_LIMIT_EXCEEDED: too many login processes running for this user'),
      },
    },
    async (req) => {
      const user = userOf(req);
      if (deps.maxLoginsPerUser !== undefined) {
        const existing = await deps.logins.listForUser(user);
        if (existing.length >= deps.maxLoginsPerUser) {
          throw new ProvisioningError('FI.MAU.BRIDGE.TOO_MANY_LOGINS', `Maximum number of logins exceeded (${deps.maxLoginsPerUser})`, 400);
        }
      }
      const started = await processes.start(user, req.params.flowId);
      return wireStep(started.processId, started.step);
    },
  );

  /** `POST /_matrix/provision/v3/login/step/{processId}/{stepId}/user_input` — submits the entered fields. */
  table.add(
    {
      method: 'POST',
      url: '/login/step/:processId/:stepId/user_input',
      operationId: 'submitLoginStepUserInput',
      summary: 'Submit user input in a login process',
      description: 'A retryable LoginError (e.g. a wrong code) leaves the process on the same step: submit again.',
      tags: ['auth'],
      params: StepParams,
      querystring: UserIdQuery,
      body: UserInputBody,
      responses: { 200: { description: 'The next step', schema: LoginStep }, ...STEP_ERRORS },
    },
    async (req, reply) => {
      const { processId, stepId } = req.params;
      return callProcess(deps, userOf(req), { kind: 'user_input', processId, stepId, input: req.body }, reply);
    },
  );

  /**
   * `POST /_matrix/provision/v3/login/step/{processId}/{stepId}/display_and_wait` — blocks until
   * the next step (a refreshed QR code, or complete). No body. A second request for the same
   * step while one waits shares its result.
   */
  table.add(
    {
      method: 'POST',
      url: '/login/step/:processId/:stepId/display_and_wait',
      operationId: 'submitLoginStepDisplayAndWait',
      summary: 'Wait for the next step after displaying data to the user',
      tags: ['auth'],
      params: StepParams,
      querystring: UserIdQuery,
      responses: { 200: { description: 'The next step', schema: LoginStep }, ...STEP_ERRORS },
    },
    async (req, reply) => {
      const { processId, stepId } = req.params;
      return callProcess(deps, userOf(req), { kind: 'display_and_wait', processId, stepId }, reply);
    },
  );

  /** `POST /_matrix/provision/v3/login/cancel/{processId}` — cancels a running process. */
  table.add(
    {
      method: 'POST',
      url: '/login/cancel/:processId',
      operationId: 'cancelLogin',
      summary: 'Cancel a login process',
      tags: ['auth'],
      params: ProcessParams,
      querystring: UserIdQuery,
      responses: {
        200: { description: 'Cancelled', schema: EmptyObject },
        ...AUTH_ERRORS,
        404: err('M_NOT_FOUND: unknown, foreign or already ended login process, or its worker is gone'),
      },
    },
    async (req, reply) => callProcess(deps, userOf(req), { kind: 'cancel', processId: req.params.processId }, reply),
  );
}
