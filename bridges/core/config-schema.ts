import { Type, type Static } from '@sinclair/typebox';
import { CryptoStoreConfigSchema } from './crypto-store/config.js';

/**
 * The configuration of one bridge (an entry of the platform's `bridges` list). The TypeScript
 * type is derived from it; descriptions and defaults become config.example.yaml.
 */
export const BridgeConfigSchema = Type.Object(
  {
    id: Type.String({
      pattern: '^[a-z][a-z0-9]{0,31}$',
      description:
        'Bridge id: scopes its rows in the database and names its Matrix users (@<id>_...:server, bot @<id>bot:server). Cannot change later.',
    }),
    network: Type.String({ description: 'Which network connector runs this bridge (e.g. telegram, whatsapp).' }),
    appservice: Type.Object(
      {
        mode: Type.Union([Type.Literal('inproc'), Type.Literal('http')], {
          default: 'inproc',
          description:
            "'inproc': the homeserver hands transactions over in this process (single process). 'http': the bridge listens " +
            'for PUT /_matrix/app/v1/transactions (a bridge worker in a cluster, or another homeserver).',
        }),
        homeserver_url: Type.Optional(
          Type.String({ description: 'Client-Server API base URL the bridge calls. Default: this platform\u2019s own listener.' }),
        ),
        listen_host: Type.String({ default: '127.0.0.1', description: "Address of the appservice listener (mode 'http')." }),
        listen_port: Type.Integer({
          minimum: 0,
          maximum: 65535,
          default: 29330,
          description: "Port of the appservice listener (mode 'http').",
        }),
        url: Type.Optional(
          Type.String({ description: "URL the homeserver pushes to (mode 'http'); default http://<listen_host>:<listen_port>." }),
        ),
        registration_file: Type.Optional(
          Type.String({
            description: 'Also write the registration YAML here (for Synapse and other homeservers). Holds tokens: keep it private.',
          }),
        ),
      },
      { default: {}, additionalProperties: false },
    ),
    backfill: Type.Object(
      {
        initial_limit: Type.Integer({
          minimum: 0,
          default: 50,
          description: 'Messages fetched into a new portal, and at most this many missed messages caught up after a reconnect.',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    queues: Type.Object(
      {
        max_per_portal: Type.Integer({
          minimum: 10,
          default: 1000,
          description: 'Events waiting per portal before typing notifications are dropped (messages are never dropped).',
        }),
        max_cached_portals: Type.Integer({ minimum: 100, default: 20000, description: 'Idle portals kept in memory per worker.' }),
      },
      { default: {}, additionalProperties: false },
    ),
    outbox: Type.Object(
      {
        max_attempts: Type.Integer({ minimum: 1, default: 6, description: 'Tries of a Matrix message before it is reported as failed.' }),
        base_backoff_ms: Type.Integer({ minimum: 10, default: 1000, description: 'First retry delay; doubles per attempt.' }),
        max_backoff_ms: Type.Integer({ minimum: 10, default: 60000, description: 'Longest retry delay.' }),
        retention_hours: Type.Number({
          exclusiveMinimum: 0,
          default: 168,
          description: 'How long sent and failed messages stay in the outbox (a redelivered one is recognised) before they are pruned.',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    provisioning: Type.Object(
      {
        listen_host: Type.String({ default: '127.0.0.1', description: 'Address of the provisioning API (/_matrix/provision/v3).' }),
        listen_port: Type.Integer({ minimum: 0, maximum: 65535, default: 29331, description: 'Port of the provisioning API.' }),
        shared_secret: Type.Optional(
          Type.String({ minLength: 16, description: 'Admin secret of /_matrix/provision/v3 (with ?user_id=). Absent: only user tokens.' }),
        ),
      },
      { default: {}, additionalProperties: false },
    ),
    crypto_store: CryptoStoreConfigSchema,
  },
  { additionalProperties: false },
);

export type BridgeConfig = Static<typeof BridgeConfigSchema>;
