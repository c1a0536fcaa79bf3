import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { MatrixError } from '../../matrix/errors.js';
import type { BackupRooms, KeyBackupData } from '../../services/e2e/key-backup.js';
import { clientRoute } from './client-route.js';

const AuthData = Type.Object({}, { additionalProperties: true });
const Count = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
const KeyData = Type.Object(
  {
    first_message_index: Count,
    forwarded_count: Count,
    is_verified: Type.Boolean(),
    session_data: Type.Object({}, { additionalProperties: true }),
  },
  { additionalProperties: true },
);
const RoomKeyBackup = Type.Object({ sessions: Type.Record(Type.String(), KeyData) }, { additionalProperties: true });
const VersionQuery = Type.Object({ version: Type.String() });
const VersionParams = Type.Object({ version: Type.String() });
const RoomParams = Type.Object({ roomId: Type.String() });
const SessionParams = Type.Object({ roomId: Type.String(), sessionId: Type.String() });

/** Server-side key backups (spec: Client-Server API, "Server-side key backups"). */
export async function keyBackupRoutes(app: FastifyInstance): Promise<void> {
  const { backup } = app.services.e2e;
  const V = '/_matrix/client/v3/room_keys/version';
  const K = '/_matrix/client/v3/room_keys/keys';

  /** `POST /_matrix/client/v3/room_keys/version` */
  clientRoute(
    app,
    'POST',
    V,
    { schema: { body: Type.Object({ algorithm: Type.String({ minLength: 1 }), auth_data: AuthData }, { additionalProperties: true }) } },
    async (req) => {
      const body = req.body as { algorithm: string; auth_data: Record<string, unknown> };
      return { version: await backup.createVersion(req.requester.userId, body.algorithm, body.auth_data) };
    },
  );

  /** `GET /_matrix/client/v3/room_keys/version` — the current backup. */
  clientRoute(app, 'GET', V, {}, async (req) => backup.getVersion(req.requester.userId));

  /** `DELETE /_matrix/client/v3/room_keys/version` — the current backup (not in the spec; Synapse has it). */
  clientRoute(app, 'DELETE', V, {}, async (req) => {
    await backup.deleteVersion(req.requester.userId);
    return {};
  });

  /** `GET /_matrix/client/v3/room_keys/version/{version}` */
  clientRoute(app, 'GET', `${V}/:version`, { schema: { params: VersionParams } }, async (req) =>
    backup.getVersion(req.requester.userId, (req.params as { version: string }).version),
  );

  /** `PUT /_matrix/client/v3/room_keys/version/{version}` — only auth_data changes. */
  clientRoute(
    app,
    'PUT',
    `${V}/:version`,
    {
      schema: {
        params: VersionParams,
        body: Type.Object(
          { algorithm: Type.String(), auth_data: AuthData, version: Type.Optional(Type.String()) },
          { additionalProperties: true },
        ),
      },
    },
    async (req) => {
      const body = req.body as { algorithm: string; auth_data: Record<string, unknown>; version?: string };
      await backup.updateVersion(req.requester.userId, (req.params as { version: string }).version, body);
      return {};
    },
  );

  /** `DELETE /_matrix/client/v3/room_keys/version/{version}` */
  clientRoute(app, 'DELETE', `${V}/:version`, { schema: { params: VersionParams } }, async (req) => {
    await backup.deleteVersion(req.requester.userId, (req.params as { version: string }).version);
    return {};
  });

  const versionOf = (req: { query: unknown }) => (req.query as { version: string }).version;

  // --- keys ---------------------------------------------------------------------------------------

  /** `PUT /_matrix/client/v3/room_keys/keys?version=` */
  clientRoute(
    app,
    'PUT',
    K,
    {
      schema: {
        querystring: VersionQuery,
        body: Type.Object({ rooms: Type.Record(Type.String(), RoomKeyBackup) }, { additionalProperties: true }),
      },
    },
    async (req) => {
      const rooms = (req.body as { rooms: Record<string, { sessions: Record<string, KeyBackupData> }> }).rooms;
      const flat: BackupRooms = Object.fromEntries(Object.entries(rooms).map(([roomId, r]) => [roomId, r.sessions]));
      return backup.putKeys(req.requester.userId, versionOf(req), flat);
    },
  );

  /** `GET /_matrix/client/v3/room_keys/keys?version=` */
  clientRoute(app, 'GET', K, { schema: { querystring: VersionQuery } }, async (req) => {
    const rooms = await backup.readKeys(req.requester.userId, versionOf(req));
    return { rooms: Object.fromEntries(Object.entries(rooms).map(([roomId, sessions]) => [roomId, { sessions }])) };
  });

  /** `DELETE /_matrix/client/v3/room_keys/keys?version=` */
  clientRoute(app, 'DELETE', K, { schema: { querystring: VersionQuery } }, async (req) =>
    backup.deleteKeys(req.requester.userId, versionOf(req)),
  );

  /** `PUT /_matrix/client/v3/room_keys/keys/{roomId}?version=` */
  clientRoute(
    app,
    'PUT',
    `${K}/:roomId`,
    { schema: { params: RoomParams, querystring: VersionQuery, body: RoomKeyBackup } },
    async (req) => {
      const { roomId } = req.params as { roomId: string };
      const sessions = (req.body as { sessions: Record<string, KeyBackupData> }).sessions;
      return backup.putKeys(req.requester.userId, versionOf(req), { [roomId]: sessions });
    },
  );

  /** `GET /_matrix/client/v3/room_keys/keys/{roomId}?version=` */
  clientRoute(app, 'GET', `${K}/:roomId`, { schema: { params: RoomParams, querystring: VersionQuery } }, async (req) => {
    const { roomId } = req.params as { roomId: string };
    const rooms = await backup.readKeys(req.requester.userId, versionOf(req), roomId);
    return { sessions: rooms[roomId] ?? {} };
  });

  /** `DELETE /_matrix/client/v3/room_keys/keys/{roomId}?version=` */
  clientRoute(app, 'DELETE', `${K}/:roomId`, { schema: { params: RoomParams, querystring: VersionQuery } }, async (req) =>
    backup.deleteKeys(req.requester.userId, versionOf(req), (req.params as { roomId: string }).roomId),
  );

  /** `PUT /_matrix/client/v3/room_keys/keys/{roomId}/{sessionId}?version=` */
  clientRoute(
    app,
    'PUT',
    `${K}/:roomId/:sessionId`,
    { schema: { params: SessionParams, querystring: VersionQuery, body: KeyData } },
    async (req) => {
      const { roomId, sessionId } = req.params as { roomId: string; sessionId: string };
      return backup.putKeys(req.requester.userId, versionOf(req), { [roomId]: { [sessionId]: req.body as KeyBackupData } });
    },
  );

  /** `GET /_matrix/client/v3/room_keys/keys/{roomId}/{sessionId}?version=` */
  clientRoute(app, 'GET', `${K}/:roomId/:sessionId`, { schema: { params: SessionParams, querystring: VersionQuery } }, async (req) => {
    const { roomId, sessionId } = req.params as { roomId: string; sessionId: string };
    const key = (await backup.readKeys(req.requester.userId, versionOf(req), roomId, sessionId))[roomId]?.[sessionId];
    if (!key) throw MatrixError.notFound('Key not found.');
    return key;
  });

  /** `DELETE /_matrix/client/v3/room_keys/keys/{roomId}/{sessionId}?version=` */
  clientRoute(app, 'DELETE', `${K}/:roomId/:sessionId`, { schema: { params: SessionParams, querystring: VersionQuery } }, async (req) => {
    const { roomId, sessionId } = req.params as { roomId: string; sessionId: string };
    return backup.deleteKeys(req.requester.userId, versionOf(req), roomId, sessionId);
  });
}
