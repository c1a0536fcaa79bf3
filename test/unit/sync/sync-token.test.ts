import { describe, expect, it } from 'vitest';
import { formatSyncToken, parseSyncToken, STREAM_NAMES, type SyncPositions } from '../../../homeserver/services/sync/sync-token.js';

describe('sync tokens', () => {
  it('writes every stream, in the wire order of STREAM_NAMES, and reads it back', () => {
    const positions = Object.fromEntries(STREAM_NAMES.map((n, i) => [n, (i + 1) * 11])) as SyncPositions;
    const token = formatSyncToken(positions);
    expect(token).toBe(`s${STREAM_NAMES.map((_, i) => (i + 1) * 11).join('_')}`);
    expect(parseSyncToken(token)).toEqual(positions);
  });

  it('reads a bare pagination token as the events position with the other streams at 0', () => {
    expect(parseSyncToken('s42')).toEqual(Object.fromEntries(STREAM_NAMES.map((n) => [n, n === 'events' ? 42 : 0])));
  });

  it('ignores positions of streams this version does not know (a newer server wrote the token)', () => {
    const longer = `s${STREAM_NAMES.map(() => '1').join('_')}_99`;
    expect(Object.keys(parseSyncToken(longer))).toEqual([...STREAM_NAMES]);
  });

  it.each(['', 's', 'x1_2', 's1_', 's_1', 's1__2', 's-1', 's1.5', 's1_2a', `s${'9'.repeat(16)}`, 'S1'])(
    'refuses %j with M_INVALID_PARAM',
    (token) => {
      expect(() => parseSyncToken(token)).toThrowError(expect.objectContaining({ errcode: 'M_INVALID_PARAM', status: 400 }));
    },
  );
});
