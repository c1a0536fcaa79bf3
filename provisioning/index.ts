export { provisioningPlugin, registerProvisioning, PROVISIONING_PREFIX, type ProvisioningPluginOptions } from './plugin.js';
export type { ProvisioningDeps, ProvisioningBridgeInfo } from './deps.js';
export { ProvisioningError } from './errors.js';
