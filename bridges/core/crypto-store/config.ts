import { Type, type Static } from '@sinclair/typebox';

/**
 * The crypto store's config section, for the bridge config to embed (e.g. under
 * `bridges.<network>.crypto_store`). Exactly one of master_key / master_key_file is required;
 * loadMasterKey() checks that and names the field in its error.
 */
export const CryptoStoreConfigSchema = Type.Object(
  {
    master_key: Type.Optional(
      Type.String({
        description:
          'Master secret, base64 of at least 32 random bytes (e.g. `openssl rand -base64 32`). Every login key is derived from it; ' +
          'losing it makes every stored credential unreadable. Prefer master_key_file or the environment; never commit it.',
      }),
    ),
    master_key_file: Type.Optional(
      Type.String({ description: 'Path of a file holding the master secret: at least 32 raw bytes, or their base64 on one line.' }),
    ),
    cache_bytes: Type.Integer({
      minimum: 0,
      default: 16 * 1024 * 1024,
      description: 'Bytes of decrypted keys kept in memory (an LRU shared by all logins of the worker). 0 disables the cache.',
    }),
  },
  { default: {}, additionalProperties: false },
);
export type CryptoStoreConfig = Static<typeof CryptoStoreConfigSchema>;
