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
import { BatchSend } from './rooms/batch-send.js';
import { createRoom, type CreateRoomRequest } from './rooms/create-room.js';
import { Directory } from './rooms/directory.js';
import { EventCommitter, type Chain, type CommittedEvent } from './rooms/event-committer.js';
import { EventStore } from './rooms/event-store.js';
import { LocalMediaStore } from './media/media-store.js';
import { MediaRepository } from './media/media-repository.js';
import { Membership } from './rooms/membership.js';
import { Messaging } from './rooms/messaging.js';
import { RoomInput } from './rooms/room-input.js';
import { RoomReads } from './rooms/room-reads.js';
import { RoomSearch } from './rooms/search/room-search.js';
import { RoomSummaries } from './rooms/spaces/room-summaries.js';
import { SpaceHierarchy } from './rooms/spaces/space-hierarchy.js';
import { RelationReads } from './rooms/relation-reads.js';
import { RoomStateCache } from './rooms/room-state-cache.js';
import type { RoomsContext } from './rooms/rooms-context.js';
import type { Requester } from './requester.js';
import type { AppserviceRegistry } from './appservices/registry-port.js';
import type { AppserviceDeliveryPort } from './appservices/delivery-port.js';
import { AppserviceQueries } from './appservices/queries.js';

import { ROOM_EVENTS_TOPIC, SyncNotifier, type RoomEventsWakeUp } from './sync/notifier.js';
import { OtkCountsCache } from './sync/otk-counts.js';
import { SyncService, type ExternalStreams, type SyncDeps } from './sync/sync-service.js';
import { SyncFilterResolver, type FilterLookup } from './sync/sync-filter-resolver.js';
import { Typing } from './ephemeral/typing.js';
import { Receipts } from './ephemeral/receipts.js';
import { UserData, userDataHooks, userDataStreams, type PushEvent } from './user-data/index.js';
import { compileRuleset } from './user-data/push/evaluator.js';
import { bumpPresenceOnSend } from './user-data/presence-activity.js';
import { Notifications } from './notifications/notifications.js';
import { Pushers } from './push/pushers.js';
import { PusherDelivery } from './push/pusher-delivery.js';
import { IpFilter } from './media/ip-filter.js';
import { runsRole } from '../roles.js';
import { E2e } from './e2e/index.js';
import { OpenIdTokens } from './openid/openid-tokens.js';
import { ContentReports } from './reports/content-reports.js';
import { EventByTimestamp } from './rooms/event-by-timestamp.js';

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
    /** GET /relations and /threads. */
    relations: RelationReads;
    aliases: Aliases;
    directory: Directory;
    /** POST /search (room_events): full-text search over what the user could read. */
    search: RoomSearch;
    /** GET /rooms/{roomId}/hierarchy: the space tree over local rooms. */
    hierarchy: SpaceHierarchy;
    /** GET /room_summary/{roomIdOrAlias}. */
    summaries: RoomSummaries;
    /** Appservice history import (com.beeper.backfill batch_send). */
    batchSend: BatchSend;
  };
  media: MediaRepository;
  /** GET /notifications: notifying events, computed from push rules at read time. */
  notifications: Notifications;
  /** Pushers (GET /pushers, POST /pushers/set); tied to devices, removed with them. */
  pushers: Pushers;
  /** Pushes to HTTP pushers' gateways; runs with the appservice_delivery role (see push/pusher-delivery.ts). */
  pusherDelivery: PusherDelivery;
  /** OpenID tokens for integrations (widgets, Element Call), checked by GET /_matrix/federation/v1/openid/userinfo. */
  openid: OpenIdTokens;
  /** Event and room reports for the server admins. */
  reports: ContentReports;
  /** Jump to date: GET /rooms/{roomId}/timestamp_to_event. */
  eventByTimestamp: EventByTimestamp;
  typing: Typing;
  receipts: Receipts;
  notifier: SyncNotifier;
  sync: SyncService;
  /** The per-user streams sync serves; the e2e and user-data services register theirs here. */
  syncStreams: ExternalStreams;
  /** Account data, tags, filters, push rules, profile, presence and the user directory. */
  userData: UserData;
  /** End-to-end encryption: device/cross-signing keys, to-device messages, key backup; `e2e.sync` for sync. */
  e2e: E2e;
  /** Application-service registrations (implemented by appservice-api, given by the composition root). */
  appservices?: AppserviceRegistry;
  /** Appservice queries and ping (appservice-api/delivery, set by the composition root when it runs). */
  appserviceDelivery?: AppserviceDeliveryPort;
  /** Hooks the user-data service fills in: stored sync filters, presence from sync, room account data. */
  syncFilterLookup?: FilterLookup;
  /** The /sync `filter` parameter, resolved through syncFilterLookup and kept parsed. */
  syncFilters: SyncFilterResolver;
  setPresenceFromSync?: (userId: string, presence: string, syncTimeoutMs?: number) => Promise<void>;
  setRoomAccountData?: (userId: string, roomId: string, type: string, content: Record<string, unknown>) => Promise<void>;
  start(): Promise<void>;
  /** Finishes in-flight writes (graceful shutdown). */
  drain(): Promise<void>;
}

export function createServices(deps: {
  config: Config;
  db: Db;
  runtime: Runtime;
  log: Logger;
  signingKey: SigningKey;
  appservices?: AppserviceRegistry;
}): Services {
  const { config, db, runtime, log, signingKey, appservices } = deps;
  const serverName = config.server_name;
  const tokens = new AccessTokenStore(db, runtime.pubsub);
  const accounts = new Accounts(db, tokens, serverName, appservices);
  const users = new UserCache(accounts, runtime.pubsub);
  const cache = new RoomStateCache(db);
  const store = new EventStore(db);
  const committer = new EventCommitter(db, (events: CommittedEvent[], chains: Chain[]) => {
    // Sync's recent-events cache first, so the syncs this batch wakes find the events in memory.
    sync.recent.committed(chains, events);
    const positions = events.map((e) => e.streamOrdering);
    const wake: RoomEventsWakeUp = {
      position: Math.max(...positions),
      rooms: [...new Set(events.map((e) => e.roomId))],
      users: [...new Set(events.flatMap((e) => (e.memberTarget ? [e.memberTarget] : [])))],
      // Lets every notifier prove it missed no position (see SyncNotifier).
      first: Math.min(...positions),
      count: events.length,
    };
    runtime.pubsub.publish(ROOM_EVENTS_TOPIC, wake).catch((err) => log.warn({ err }, 'notify failed'));
  });
  const input = new RoomInput(cache, committer, { serverName, key: signingKey }, log);
  const ctx: RoomsContext = { db, serverName, input, store, cache, accounts };
  const reads = new RoomReads(ctx);
  // Unknown users/aliases in appservice namespaces are asked about once delivery runs (platform sets appserviceDelivery).
  const asQueries = new AppserviceQueries(() => services.appserviceDelivery);
  const aliases = new Aliases(ctx, appservices, asQueries);
  const typing = new Typing(db, runtime.pubsub, cache);
  const receipts = new Receipts(db, runtime.pubsub, cache, store);
  const notifier = new SyncNotifier(runtime.pubsub);
  const syncStreams: ExternalStreams = {};
  const syncDeps: SyncDeps = { db, store, cache, receipts, typing, notifier, streams: syncStreams };
  const sync = new SyncService(syncDeps);
  const userData = new UserData({ config, db, pubsub: runtime.pubsub, log, accounts, users, input, cache });
  Object.assign(syncStreams, userDataStreams(userData));
  syncDeps.notificationDecider = async (userId) => {
    // Compiled once per loaded ruleset (this closure is its only holder, so it is never edited):
    // each event then runs the compiled rules directly, without copying the context.
    const rules = compileRuleset(await userData.pushRules.ruleset(userId));
    return (event, ctx) => rules.evaluate(event as unknown as PushEvent, ctx);
  };
  const e2e = new E2e({ db, pubsub: runtime.pubsub, accounts, serverName, log });
  syncDeps.e2e = e2e.sync;
  const otkCounts = new OtkCountsCache(db);
  let stopOtkInvalidation: (() => Promise<void>) | undefined;
  syncDeps.otkCounts = (userId, deviceId) => otkCounts.load(userId, deviceId);
  syncStreams.to_device = e2e.sync.toDevice;
  syncStreams.device_lists = e2e.sync.deviceLists;
  const notifications = new Notifications({ db, cache, ruleset: (userId) => userData.pushRules.ruleset(userId) });
  const pushers = new Pushers(db, runtime.pubsub);
  accounts.onDevicesDeleted((tx, userId, deviceIds) => pushers.devicesDeleted(tx, userId, deviceIds));
  const ipFilter = new IpFilter(config.push.ip_range_blacklist, config.push.ip_range_whitelist);
  const pusherDelivery = new PusherDelivery({ db, pubsub: runtime.pubsub, pushers, notifications, cache, ipFilter, log });

  const services: Services = {
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
      create: (requester, req) => createRoom(ctx, aliases, requester, req, asQueries),
      input,
      committer,
      store,
      cache,
      membership: new Membership(ctx, aliases, asQueries),
      messaging: bumpPresenceOnSend(new Messaging(ctx), userData.presence, log),
      reads,
      relations: new RelationReads(ctx, reads),
      aliases,
      directory: new Directory(ctx),
      search: new RoomSearch({ db, store, reads }),
      hierarchy: new SpaceHierarchy(cache),
      summaries: new RoomSummaries(cache, aliases),
      batchSend: new BatchSend({
        ctx,
        signer: { serverName, key: signingKey },
        appservices,
        markRead: (userId, roomId, eventId) => receipts.send(userId, roomId, 'm.read', eventId),
      }),
    },
    media: new MediaRepository({
      db,
      store: new LocalMediaStore(config.media.store_path),
      pubsub: runtime.pubsub,
      log,
      serverName,
      config: config.media,
    }),
    notifications,
    pushers,
    pusherDelivery,
    openid: new OpenIdTokens(db, config.openid.token_lifetime_ms),
    // Through services.rooms.reads so the reporter's visibility is the one every read endpoint applies.
    reports: new ContentReports(db, { event: (r, roomId, eventId) => services.rooms.reads.event(r, roomId, eventId) }, store),
    eventByTimestamp: new EventByTimestamp(ctx, reads),
    typing,
    receipts,
    notifier,
    sync,
    syncFilters: new SyncFilterResolver(() => services.syncFilterLookup),
    syncStreams,
    userData,
    e2e,
    appservices,
    ...userDataHooks(userData),
    async start() {
      stopOtkInvalidation = await e2e.otkChanges.listen((devices) => otkCounts.invalidate(devices));
      await tokens.start();
      await users.start();
      await typing.resumeExpiries(); // notices whose timer died with a previous process still end
      if (userData.presence.enabled) userData.presence.sweeper.start(); // idle/offline timers (presence-sweeper.ts)
      await notifier.start(sync.notifierStartOptions((err) => log.warn({ err }, 'sync notifier gap read failed')));
      // Pushing is background delivery, like the appservice loops: the same role runs it.
      if (runsRole(config, 'appservice_delivery')) await pusherDelivery.start();
    },
    async drain() {
      typing.stop();
      await userData.presence.sweeper.stop();
      await pusherDelivery.stop();
      await notifier.stop();
      await stopOtkInvalidation?.();
      await committer.drain();
    },
  };
  userData.profiles.appserviceQueries = asQueries;
  return services;
}
