import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { PushRuleBody } from '../../services/user-data/push/push-rules.js';
import { RULE_KINDS, type RuleKind } from '../../services/user-data/push/types.js';
import { clientRoute } from './client-route.js';

const Kind = Type.Union(RULE_KINDS.map((k) => Type.Literal(k)));
const RuleParams = Type.Object({ kind: Kind, ruleId: Type.String({ minLength: 1, maxLength: 255 }) });
const Action = Type.Union([Type.String(), Type.Object({}, { additionalProperties: true })]);
const Condition = Type.Object({ kind: Type.String() }, { additionalProperties: true });

type RuleParamsValue = { kind: RuleKind; ruleId: string };

/** Push rules (spec: "Push Rules: API"); only the `global` scope exists. */
export async function pushRuleRoutes(app: FastifyInstance): Promise<void> {
  const { pushRules } = app.services.userData;

  /** `GET /_matrix/client/v3/pushrules/` */
  clientRoute(app, 'GET', '/_matrix/client/v3/pushrules/', {}, async (req) => ({ global: await pushRules.ruleset(req.requester.userId) }));

  /** `GET /_matrix/client/v3/pushrules/global/` */
  clientRoute(app, 'GET', '/_matrix/client/v3/pushrules/global/', {}, async (req) => pushRules.ruleset(req.requester.userId));

  /** `GET /_matrix/client/v3/pushrules/global/{kind}/{ruleId}` */
  clientRoute(app, 'GET', '/_matrix/client/v3/pushrules/global/:kind/:ruleId', { schema: { params: RuleParams } }, async (req) => {
    const { kind, ruleId } = req.params as RuleParamsValue;
    return pushRules.get(req.requester.userId, kind, ruleId);
  });

  /** `PUT /_matrix/client/v3/pushrules/global/{kind}/{ruleId}?before=&after=` — create or replace a user rule. */
  clientRoute(
    app,
    'PUT',
    '/_matrix/client/v3/pushrules/global/:kind/:ruleId',
    {
      schema: {
        params: RuleParams,
        querystring: Type.Object({ before: Type.Optional(Type.String()), after: Type.Optional(Type.String()) }),
        body: Type.Object(
          {
            actions: Type.Array(Action, { maxItems: 100 }),
            conditions: Type.Optional(Type.Array(Condition, { maxItems: 100 })),
            pattern: Type.Optional(Type.String({ maxLength: 1000 })),
          },
          { additionalProperties: true },
        ),
      },
    },
    async (req) => {
      const { kind, ruleId } = req.params as RuleParamsValue;
      const { before, after } = req.query as { before?: string; after?: string };
      await pushRules.put(req.requester.userId, kind, ruleId, req.body as PushRuleBody, { before, after });
      return {};
    },
  );

  /** `DELETE /_matrix/client/v3/pushrules/global/{kind}/{ruleId}` */
  clientRoute(app, 'DELETE', '/_matrix/client/v3/pushrules/global/:kind/:ruleId', { schema: { params: RuleParams } }, async (req) => {
    const { kind, ruleId } = req.params as RuleParamsValue;
    await pushRules.delete(req.requester.userId, kind, ruleId);
    return {};
  });

  /** `GET /_matrix/client/v3/pushrules/global/{kind}/{ruleId}/enabled` */
  clientRoute(app, 'GET', '/_matrix/client/v3/pushrules/global/:kind/:ruleId/enabled', { schema: { params: RuleParams } }, async (req) => {
    const { kind, ruleId } = req.params as RuleParamsValue;
    return { enabled: (await pushRules.get(req.requester.userId, kind, ruleId)).enabled };
  });

  /** `PUT /_matrix/client/v3/pushrules/global/{kind}/{ruleId}/enabled` */
  clientRoute(
    app,
    'PUT',
    '/_matrix/client/v3/pushrules/global/:kind/:ruleId/enabled',
    { schema: { params: RuleParams, body: Type.Object({ enabled: Type.Boolean() }, { additionalProperties: true }) } },
    async (req) => {
      const { kind, ruleId } = req.params as RuleParamsValue;
      await pushRules.setEnabled(req.requester.userId, kind, ruleId, (req.body as { enabled: boolean }).enabled);
      return {};
    },
  );

  /** `GET /_matrix/client/v3/pushrules/global/{kind}/{ruleId}/actions` */
  clientRoute(app, 'GET', '/_matrix/client/v3/pushrules/global/:kind/:ruleId/actions', { schema: { params: RuleParams } }, async (req) => {
    const { kind, ruleId } = req.params as RuleParamsValue;
    return { actions: (await pushRules.get(req.requester.userId, kind, ruleId)).actions };
  });

  /** `PUT /_matrix/client/v3/pushrules/global/{kind}/{ruleId}/actions` */
  clientRoute(
    app,
    'PUT',
    '/_matrix/client/v3/pushrules/global/:kind/:ruleId/actions',
    {
      schema: { params: RuleParams, body: Type.Object({ actions: Type.Array(Action, { maxItems: 100 }) }, { additionalProperties: true }) },
    },
    async (req) => {
      const { kind, ruleId } = req.params as RuleParamsValue;
      await pushRules.setActions(req.requester.userId, kind, ruleId, (req.body as { actions: unknown[] }).actions);
      return {};
    },
  );
}
