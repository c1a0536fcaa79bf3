import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import { MatrixError } from '../../matrix/errors.js';
import { parseRoomId } from '../../matrix/ids.js';
import { DEFAULT_ROOM_VERSION, SUPPORTED_ROOM_VERSIONS } from '../../matrix/room-versions.js';
import { FilterSchema, type Filter } from '../../services/user-data/filters.js';
import type { PresenceState } from '../../services/user-data/presence.js';
import type { ProfileField } from '../../services/user-data/profile.js';
import { DEFAULT_SEARCH_LIMIT } from '../../services/user-data/user-directory.js';
import { clientRoute } from './client-route.js';

const AnyObject = Type.Object({}, { additionalProperties: true });
const EventType = Type.String({ minLength: 1, maxLength: 255 });
const UserParams = Type.Object({ userId: Type.String() });
const TypeParams = Type.Object({ userId: Type.String(), type: EventType });
const RoomTypeParams = Type.Object({ userId: Type.String(), roomId: Type.String(), type: EventType });
const RoomParams = Type.Object({ userId: Type.String(), roomId: Type.String() });
const TagParams = Type.Object({ userId: Type.String(), roomId: Type.String(), tag: Type.String({ minLength: 1, maxLength: 255 }) });

/** The path's user must be the requester (account data, tags, filters are private). */
function ownUserId(req: FastifyRequest, what: string): string {
  const { userId } = req.params as { userId: string };
  if (userId !== req.requester.userId) throw MatrixError.forbidden(`Cannot ${what} for other users.`);
  return userId;
}

export async function userDataRoutes(app: FastifyInstance): Promise<void> {
  const { userData } = app.services;

  // --- Account data ------------------------------------------------------------------------------

  /** `PUT /_matrix/client/v3/user/{userId}/account_data/{type}` */
  clientRoute(
    app,
    'PUT',
    '/_matrix/client/v3/user/:userId/account_data/:type',
    { schema: { params: TypeParams, body: AnyObject } },
    async (req) => {
      const userId = ownUserId(req, 'add account data');
      await userData.accountData.setFromClient(userId, null, (req.params as { type: string }).type, req.body as Record<string, unknown>);
      return {};
    },
  );

  /** `GET /_matrix/client/v3/user/{userId}/account_data/{type}` */
  clientRoute(app, 'GET', '/_matrix/client/v3/user/:userId/account_data/:type', { schema: { params: TypeParams } }, async (req) => {
    const userId = ownUserId(req, 'get account data');
    const content = await userData.accountData.get(userId, null, (req.params as { type: string }).type);
    if (!content) throw MatrixError.notFound('Account data not found');
    return content;
  });

  /** `PUT /_matrix/client/v3/user/{userId}/rooms/{roomId}/account_data/{type}` */
  clientRoute(
    app,
    'PUT',
    '/_matrix/client/v3/user/:userId/rooms/:roomId/account_data/:type',
    { schema: { params: RoomTypeParams, body: AnyObject } },
    async (req) => {
      const userId = ownUserId(req, 'add account data');
      const { roomId, type } = req.params as { roomId: string; type: string };
      await userData.accountData.setFromClient(userId, parseRoomId(roomId), type, req.body as Record<string, unknown>);
      return {};
    },
  );

  /** `GET /_matrix/client/v3/user/{userId}/rooms/{roomId}/account_data/{type}` */
  clientRoute(
    app,
    'GET',
    '/_matrix/client/v3/user/:userId/rooms/:roomId/account_data/:type',
    { schema: { params: RoomTypeParams } },
    async (req) => {
      const userId = ownUserId(req, 'get account data');
      const { roomId, type } = req.params as { roomId: string; type: string };
      const content = await userData.accountData.get(userId, parseRoomId(roomId), type);
      if (!content) throw MatrixError.notFound('Room account data not found');
      return content;
    },
  );

  // --- Tags (the room's m.tag account data) -------------------------------------------------------

  /** `GET /_matrix/client/v3/user/{userId}/rooms/{roomId}/tags` */
  clientRoute(app, 'GET', '/_matrix/client/v3/user/:userId/rooms/:roomId/tags', { schema: { params: RoomParams } }, async (req) => {
    const userId = ownUserId(req, 'get tags');
    return { tags: await userData.accountData.tags(userId, (req.params as { roomId: string }).roomId) };
  });

  /** `PUT /_matrix/client/v3/user/{userId}/rooms/{roomId}/tags/{tag}` — body `{ order? }`, kept as sent. */
  clientRoute(
    app,
    'PUT',
    '/_matrix/client/v3/user/:userId/rooms/:roomId/tags/:tag',
    {
      schema: {
        params: TagParams,
        body: Type.Object({ order: Type.Optional(Type.Number()) }, { additionalProperties: true }),
      },
    },
    async (req) => {
      const userId = ownUserId(req, 'add tags');
      const { roomId, tag } = req.params as { roomId: string; tag: string };
      await userData.accountData.setTag(userId, roomId, tag, req.body as Record<string, unknown>);
      return {};
    },
  );

  /** `DELETE /_matrix/client/v3/user/{userId}/rooms/{roomId}/tags/{tag}` */
  clientRoute(app, 'DELETE', '/_matrix/client/v3/user/:userId/rooms/:roomId/tags/:tag', { schema: { params: TagParams } }, async (req) => {
    const userId = ownUserId(req, 'remove tags');
    const { roomId, tag } = req.params as { roomId: string; tag: string };
    await userData.accountData.removeTag(userId, roomId, tag);
    return {};
  });

  // --- Filters -----------------------------------------------------------------------------------

  /** `POST /_matrix/client/v3/user/{userId}/filter` */
  clientRoute(
    app,
    'POST',
    '/_matrix/client/v3/user/:userId/filter',
    { schema: { params: UserParams, body: FilterSchema } },
    async (req) => {
      const userId = ownUserId(req, 'create filters');
      return { filter_id: await userData.filters.create(userId, req.body as Filter) };
    },
  );

  /** `GET /_matrix/client/v3/user/{userId}/filter/{filterId}` */
  clientRoute(
    app,
    'GET',
    '/_matrix/client/v3/user/:userId/filter/:filterId',
    { schema: { params: Type.Object({ userId: Type.String(), filterId: Type.String() }) } },
    async (req) => {
      const userId = ownUserId(req, 'get filters');
      const filter = await userData.filters.get(userId, (req.params as { filterId: string }).filterId);
      if (!filter) throw MatrixError.notFound('No such filter');
      return filter;
    },
  );

  // --- Profile -----------------------------------------------------------------------------------

  /** `GET /_matrix/client/v3/profile/{userId}` — public, like Synapse's default. */
  clientRoute(app, 'GET', '/_matrix/client/v3/profile/:userId', { auth: false, schema: { params: UserParams } }, async (req) =>
    userData.profiles.get((req.params as { userId: string }).userId),
  );

  for (const field of ['displayname', 'avatar_url'] as const satisfies readonly ProfileField[]) {
    const path = `/_matrix/client/v3/profile/:userId/${field}`;

    /** `GET /_matrix/client/v3/profile/{userId}/{displayname|avatar_url}` — `{}` when unset, as Synapse. */
    clientRoute(app, 'GET', path, { auth: false, schema: { params: UserParams } }, async (req) => {
      const profile = await userData.profiles.get((req.params as { userId: string }).userId);
      return profile[field] !== undefined ? { [field]: profile[field] } : {};
    });

    /** `PUT /_matrix/client/v3/profile/{userId}/{displayname|avatar_url}` — own profile; joined rooms get a new member event. */
    clientRoute(
      app,
      'PUT',
      path,
      {
        schema: {
          params: UserParams,
          body: Type.Object({ [field]: Type.Union([Type.String(), Type.Null()]) }, { additionalProperties: true }),
        },
      },
      async (req) => {
        const value = (req.body as Record<string, string | null>)[field]!;
        await userData.profiles.set(req.requester.userId, (req.params as { userId: string }).userId, field, value);
        return {};
      },
    );

    /** `DELETE /_matrix/client/v3/profile/{userId}/{displayname|avatar_url}` (v1.16) — clears the field. */
    clientRoute(app, 'DELETE', path, { schema: { params: UserParams } }, async (req) => {
      await userData.profiles.set(req.requester.userId, (req.params as { userId: string }).userId, field, null);
      return {};
    });
  }

  // --- Capabilities ------------------------------------------------------------------------------

  /** `GET /_matrix/client/v3/capabilities` */
  clientRoute(app, 'GET', '/_matrix/client/v3/capabilities', {}, async () => ({
    capabilities: {
      'm.change_password': { enabled: true },
      'm.room_versions': {
        default: DEFAULT_ROOM_VERSION,
        available: Object.fromEntries(SUPPORTED_ROOM_VERSIONS.map((v) => [v, 'stable'])),
      },
      'm.set_displayname': { enabled: true },
      'm.set_avatar_url': { enabled: true },
      'm.3pid_changes': { enabled: false },
    },
  }));

  // --- Presence ----------------------------------------------------------------------------------

  const PresenceValue = Type.Union([Type.Literal('online'), Type.Literal('unavailable'), Type.Literal('offline')]);

  /** `PUT /_matrix/client/v3/presence/{userId}/status` — own presence only. */
  clientRoute(
    app,
    'PUT',
    '/_matrix/client/v3/presence/:userId/status',
    {
      schema: {
        params: UserParams,
        body: Type.Object(
          { presence: PresenceValue, status_msg: Type.Optional(Type.Union([Type.String({ maxLength: 4096 }), Type.Null()])) },
          { additionalProperties: true },
        ),
      },
    },
    async (req) => {
      const userId = ownUserId(req, 'set presence state');
      const body = req.body as { presence: PresenceState; status_msg?: string | null };
      await userData.presence.set(userId, body.presence, body.status_msg ?? null);
      return {};
    },
  );

  /** `GET /_matrix/client/v3/presence/{userId}/status` — yourself or users sharing a room with you. */
  clientRoute(app, 'GET', '/_matrix/client/v3/presence/:userId/status', { schema: { params: UserParams } }, async (req) =>
    userData.presence.get(req.requester.userId, (req.params as { userId: string }).userId),
  );

  // --- User directory ----------------------------------------------------------------------------

  /** `POST /_matrix/client/v3/user_directory/search` */
  clientRoute(
    app,
    'POST',
    '/_matrix/client/v3/user_directory/search',
    {
      schema: {
        body: Type.Object(
          { search_term: Type.String({ maxLength: 1000 }), limit: Type.Optional(Type.Integer({ minimum: 0 })) },
          { additionalProperties: true },
        ),
      },
    },
    async (req) => {
      const body = req.body as { search_term: string; limit?: number };
      return userData.directory.search(req.requester.userId, body.search_term, body.limit ?? DEFAULT_SEARCH_LIMIT);
    },
  );
}
