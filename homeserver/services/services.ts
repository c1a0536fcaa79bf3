import type { Config } from '../config-schema.js';
import type { Db } from '../storage/db.js';
import type { Runtime } from '../runtime/ports.js';
import type { Logger } from '../runtime/logger.js';
import type { SigningKey } from '../matrix/signing.js';
import { AccessTokenStore } from './accounts/access-tokens.js';
import { Accounts } from './accounts/accounts.js';
import { UserCache } from './accounts/user-cache.js';
import { UserInteractiveAuth } from './accounts/user-interactive-auth.js';
import { Aliases } from './rooms/aliases.js';
import { createRoom, type CreateRoomRequest } from './rooms/create-room.js';
import { Directory } from './rooms/directory.js';
import { EventCommitter, type CommittedEvent } from './rooms/event-committer.js';
import { EventStore } from './rooms/event-store.js';
import { Membership } from './rooms/membership.js';
import { Messaging } from './rooms/messaging.js';
import { RoomInput } from './rooms/room-input.js';
import { RoomReads } from './rooms/room-reads.js';
import { RoomStateCache } from './rooms/room-state-cache.js';
import type { RoomsContext } from './rooms/rooms-context.js';
import type { Requester } from './requester.js';

/** Published after each group commit: the highest stream position now durable (sync and appservices wake on it). */
export const ROOM_EVENTS_TOPIC = 'hs.room_events';

export interface Services {
  config: Config;
  db: Db;
  runtime: Runtime;
  log: Logger;
  serverName: string;
  signingKey: SigningKey;
  accounts: Accounts;
  users: UserCache;
  uia: UserInteractiveAuth;
  rooms: {
    create(requester: Requester, req: CreateRoomRequest): Promise<{ room_id: string; room_alias?: string }>;
    input: RoomInput;
    committer: EventCommitter;
    store: EventStore;
    cache: RoomStateCache;
    membership: Membership;
    messaging: Messaging;
    reads: RoomReads;
    aliases: Aliases;
    directory: Directory;
  };
  start(): Promise<void>;
  /** Finishes in-flight writes (graceful shutdown). */
  drain(): Promise<void>;
}

export function createServices(deps: { config: Config; db: Db; runtime: Runtime; log: Logger; signingKey: SigningKey }): Services {
  const { config, db, runtime, log, signingKey } = deps;
  const serverName = config.server_name;
  const tokens = new AccessTokenStore(db, runtime.pubsub);
  const accounts = new Accounts(db, tokens, serverName);
  const users = new UserCache(accounts, runtime.pubsub);
  const cache = new RoomStateCache(db);
  const store = new EventStore(db);
  const committer = new EventCommitter(db, (events: CommittedEvent[]) => {
    const position = events[events.length - 1]!.streamOrdering;
    runtime.pubsub
      .publish(ROOM_EVENTS_TOPIC, { position, rooms: [...new Set(events.map((e) => e.roomId))] })
      .catch((err) => log.warn({ err }, 'notify failed'));
  });
  const input = new RoomInput(cache, committer, { serverName, key: signingKey }, log);
  const ctx: RoomsContext = { db, serverName, input, store, cache, accounts };
  const aliases = new Aliases(ctx);

  return {
    config,
    db,
    runtime,
    log,
    serverName,
    signingKey,
    accounts,
    users,
    uia: new UserInteractiveAuth(db, accounts),
    rooms: {
      create: (requester, req) => createRoom(ctx, aliases, requester, req),
      input,
      committer,
      store,
      cache,
      membership: new Membership(ctx, aliases),
      messaging: new Messaging(ctx),
      reads: new RoomReads(ctx),
      aliases,
      directory: new Directory(ctx),
    },
    async start() {
      await tokens.start();
      await users.start();
    },
    drain: () => committer.drain(),
  };
}
