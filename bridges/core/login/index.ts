export * from './login-process-error.js';
export * from './process-step.js';
export * from './login-processes.js';
