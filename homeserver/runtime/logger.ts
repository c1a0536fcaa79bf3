import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * One pino logger per process. Secrets never reach it: request logging is done by the HTTP layer,
 * which logs method, route and status only (no headers, bodies or query strings with tokens).
 */
export function createLogger(level: string, name = 'causeway'): Logger {
  return pino({
    name,
    level,
    redact: {
      paths: [
        'password',
        '*.password',
        'access_token',
        '*.access_token',
        'token',
        '*.token',
        'req.headers.authorization',
        'shared_secret',
        '*.shared_secret',
      ],
      censor: '[redacted]',
    },
  });
}
