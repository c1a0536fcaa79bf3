export { CryptoStore, type CryptoStoreOptions } from './crypto-store.js';
export { LoginCryptoStore, type LeaseFence } from './login-key-store.js';
export { LeaseLostError, CryptoKeyOpenError, MasterKeyMismatchError } from './errors.js';
export {
  loadMasterKey,
  MasterKey,
  MasterKeyError,
  MIN_MASTER_KEY_BYTES,
  type MasterKeySource,
  type MasterKeyFields,
} from './master-key.js';
export { CryptoStoreConfigSchema, type CryptoStoreConfig } from './config.js';
export { LOGIN_SECRETS_NAMESPACE, saveLoginSecrets } from './login-secrets.js';
