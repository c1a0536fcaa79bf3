export { FakeNetwork } from './fake-network.js';
export type { Session } from './session-registry.js';
export { FakeConnection, type ConnectionListener, type ConnectionSignal } from './fake-connection.js';
export { FakenetConnector, type FakenetConnectorOptions } from './connector.js';
export { FakenetClient, PTS_METADATA, SESSION_SECRET } from './client.js';
export { FakeNetworkError, FakeConnectError } from './errors.js';
export * from './ids.js';
export * from './types.js';
export { MemoryKeyStore, testLoginContext, type TestLoginContext } from './test-login-context.js';
