import { describe, expect, it } from 'vitest';
import { MatrixHttpError } from '../../../bridges/core/matrix/cs-client.js';
import { untilHomeserverReady } from '../../../bridges/core/matrix/until-homeserver-ready.js';
import { createLogger } from '../../../homeserver/runtime/logger.js';
import { freePort } from '../../helpers/cli-process.js';

const log = createLogger('silent');
const unknownToken = () => new MatrixHttpError('POST', '/_matrix/client/v3/register', 401, 'M_UNKNOWN_TOKEN', 'Unknown token');

describe('untilHomeserverReady (a bridge worker starting next to a homeserver)', () => {
  it('retries while the homeserver has not loaded the registration yet', async () => {
    let calls = 0;
    const result = await untilHomeserverReady(async () => {
      if (++calls < 3) throw unknownToken();
      return 'registered';
    }, log);
    expect(result).toBe('registered');
    expect(calls).toBe(3);
  });

  it('retries while nothing listens yet (a real refused connection), within its bound', async () => {
    const port = await freePort();
    let calls = 0;
    const started = Date.now();
    const attempt = untilHomeserverReady(() => (calls++, fetch(`http://127.0.0.1:${port}/`)), log, 500);
    await expect(attempt).rejects.toThrow(/fetch failed/);
    expect(calls).toBeGreaterThan(1);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('gives up at once on an answer that waiting cannot change', async () => {
    let calls = 0;
    const forbidden = new MatrixHttpError('POST', '/_matrix/client/v3/register', 403, 'M_FORBIDDEN', 'no');
    await expect(untilHomeserverReady(() => (calls++, Promise.reject(forbidden)), log)).rejects.toBe(forbidden);
    expect(calls).toBe(1);
  });
});
