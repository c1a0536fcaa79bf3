import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { parseDeviceListPosition } from '../../services/e2e/index.js';
import type { CrossSigningUpload, KeysUploadRequest } from '../../services/e2e/keys.js';
import { clientRoute } from './client-route.js';

const Signatures = Type.Record(Type.String(), Type.Record(Type.String(), Type.String()));
const KeyObject = Type.Union([
  Type.String(),
  Type.Object({ key: Type.String(), signatures: Type.Optional(Signatures) }, { additionalProperties: true }),
]);
const KeyMap = Type.Record(Type.String(), KeyObject);
const DeviceKeys = Type.Object(
  {
    user_id: Type.String(),
    device_id: Type.String(),
    algorithms: Type.Array(Type.String()),
    keys: Type.Record(Type.String(), Type.String()),
    signatures: Signatures,
  },
  { additionalProperties: true },
);
const CrossSigningKey = Type.Object(
  {
    user_id: Type.String(),
    usage: Type.Array(Type.String(), { minItems: 1 }),
    keys: Type.Record(Type.String(), Type.String()),
    signatures: Type.Optional(Signatures),
  },
  { additionalProperties: true },
);
const Auth = Type.Optional(Type.Object({}, { additionalProperties: true }));
const PASSWORD_FLOWS = [{ stages: ['m.login.password' as const] }];

/** End-to-end encryption keys (spec: Client-Server API, "End-to-End Encryption"). */
export async function e2eKeyRoutes(app: FastifyInstance): Promise<void> {
  const { e2e, uia } = app.services;

  /** `POST /_matrix/client/v3/keys/upload` */
  clientRoute(
    app,
    'POST',
    '/_matrix/client/v3/keys/upload',
    {
      schema: {
        body: Type.Object(
          {
            device_keys: Type.Optional(DeviceKeys),
            one_time_keys: Type.Optional(KeyMap),
            fallback_keys: Type.Optional(KeyMap),
            'org.matrix.msc2732.fallback_keys': Type.Optional(KeyMap),
          },
          { additionalProperties: true },
        ),
      },
    },
    async (req) => e2e.keys.upload(req.requester, req.body as KeysUploadRequest),
  );

  /** `POST /_matrix/client/v3/keys/query` */
  clientRoute(
    app,
    'POST',
    '/_matrix/client/v3/keys/query',
    {
      schema: {
        body: Type.Object(
          { device_keys: Type.Record(Type.String(), Type.Array(Type.String())), timeout: Type.Optional(Type.Integer()) },
          { additionalProperties: true },
        ),
      },
    },
    async (req) => e2e.keys.query(req.requester, (req.body as { device_keys: Record<string, string[]> }).device_keys),
  );

  /** `POST /_matrix/client/v3/keys/claim` */
  clientRoute(
    app,
    'POST',
    '/_matrix/client/v3/keys/claim',
    {
      schema: {
        body: Type.Object(
          {
            one_time_keys: Type.Record(Type.String(), Type.Record(Type.String(), Type.String())),
            timeout: Type.Optional(Type.Integer()),
          },
          { additionalProperties: true },
        ),
      },
    },
    async (req) => e2e.keys.claim((req.body as { one_time_keys: Record<string, Record<string, string>> }).one_time_keys),
  );

  /** `GET /_matrix/client/v3/keys/changes?from=&to=` — tokens parsed by parseDeviceListPosition. */
  clientRoute(
    app,
    'GET',
    '/_matrix/client/v3/keys/changes',
    { schema: { querystring: Type.Object({ from: Type.String(), to: Type.String() }) } },
    async (req) => {
      const q = req.query as { from: string; to: string };
      const changed = await e2e.deviceLists.keyChanges(
        req.requester.userId,
        parseDeviceListPosition(q.from),
        parseDeviceListPosition(q.to),
      );
      return { changed, left: [] };
    },
  );

  /** `POST /_matrix/client/v3/keys/device_signing/upload` — UIA unless first upload or an exact re-upload. */
  clientRoute(
    app,
    'POST',
    '/_matrix/client/v3/keys/device_signing/upload',
    {
      schema: {
        body: Type.Object(
          {
            master_key: Type.Optional(CrossSigningKey),
            self_signing_key: Type.Optional(CrossSigningKey),
            user_signing_key: Type.Optional(CrossSigningKey),
            auth: Auth,
          },
          { additionalProperties: true },
        ),
      },
    },
    async (req) => {
      const body = req.body as CrossSigningUpload & { auth?: Record<string, unknown> };
      const userId = req.requester.userId;
      const needsAuth = await e2e.keys.crossSigningNeedsAuth(userId, body);
      if (needsAuth) await uia.require('keys/device_signing/upload', body.auth, PASSWORD_FLOWS, userId);
      await e2e.keys.uploadCrossSigning(userId, body, needsAuth);
      return {};
    },
  );

  /** `POST /_matrix/client/v3/keys/signatures/upload` */
  clientRoute(
    app,
    'POST',
    '/_matrix/client/v3/keys/signatures/upload',
    {
      schema: {
        body: Type.Record(Type.String(), Type.Record(Type.String(), Type.Object({}, { additionalProperties: true }))),
      },
    },
    async (req) => e2e.keys.uploadSignatures(req.requester, req.body as Record<string, Record<string, Record<string, unknown>>>),
  );
}
