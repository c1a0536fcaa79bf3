export * from './login-process-error.js';
export * from './process-step.js';
export * from './login-processes.js';
export * from './process-id.js';
export * from './process-relay.js';
