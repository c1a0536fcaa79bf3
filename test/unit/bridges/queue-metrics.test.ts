import { describe, expect, it } from 'vitest';
import { MatrixHttpError } from '../../../bridges/core/matrix/cs-client.js';
import { failureCode } from '../../../bridges/core/metrics/failure-code.js';
import { QueuedTally, SerialQueue } from '../../../bridges/core/portal/serial-queue.js';

describe('QueuedTally (the portal queue depth a scrape reads)', () => {
  it('follows the waiting tasks of every queue sharing it, drops included', async () => {
    const tally = new QueuedTally();
    const a = new SerialQueue(3, () => {}, tally);
    const b = new SerialQueue(10, () => {}, tally);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    a.push({ bytes: 1, run: () => gate }); // running: not waiting
    a.push({ bytes: 1, droppable: true, run: async () => {} });
    a.push({ bytes: 1, run: async () => {} });
    a.push({ bytes: 1, run: async () => {} });
    expect(tally.count).toBe(3);
    a.push({ bytes: 1, run: async () => {} }); // full: the typing task is dropped for it
    a.push({ bytes: 1, droppable: true, run: async () => {} }); // full, typing: refused
    expect(tally.count).toBe(3);
    b.push({ bytes: 1, run: () => gate });
    b.push({ bytes: 1, run: async () => Promise.reject(new Error('fails, still leaves the queue')) });
    expect(tally.count).toBe(4);
    release();
    await Promise.all([a.idle(), b.idle()]);
    expect(tally.count).toBe(0);
  });
});

describe('failureCode (the code label of a delivery failure)', () => {
  it('keeps label values to a small set: errcode, HTTP status, system code, else unknown', () => {
    expect(failureCode(new MatrixHttpError('PUT', '/send', 413, 'M_TOO_LARGE', 'too large'))).toBe('M_TOO_LARGE');
    expect(failureCode(new MatrixHttpError('PUT', '/send', 502, undefined, 'Bad Gateway'))).toBe('HTTP_502');
    expect(failureCode(new MatrixHttpError('PUT', '/send', 400, 'not a code: said by a server', 'x'))).toBe('HTTP_400');
    const fetchFailure = new TypeError('fetch failed', { cause: Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }) });
    expect(failureCode(fetchFailure)).toBe('ECONNREFUSED');
    expect(failureCode(new Error('something with a user id @a:b in it'))).toBe('unknown');
    expect(failureCode('a string')).toBe('unknown');
  });
});
