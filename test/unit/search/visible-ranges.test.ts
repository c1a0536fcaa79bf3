import { describe, expect, it } from 'vitest';
import type { EventRow } from '../../../homeserver/services/rooms/client-event.js';
import { VisibilityFilter } from '../../../homeserver/services/rooms/history-visibility.js';
import { visibleRanges, type Timeline } from '../../../homeserver/services/rooms/search/visible-ranges.js';
import { decodeSearchToken, encodeSearchToken } from '../../../homeserver/services/rooms/search/search-token.js';
import { highlightsIn, prefixQuery, searchWords } from '../../../homeserver/services/rooms/search/search-terms.js';

/** A deterministic pseudo-random source, so a failure reproduces. */
function rng(seed: number) {
  return () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

describe('visibleRanges', () => {
  it('agrees with VisibilityFilter.canSee at every position, for random timelines', () => {
    const random = rng(7);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
    for (let round = 0; round < 500; round++) {
      const timeline: Timeline = [];
      let pos = Math.floor(random() * 5) - 2; // sometimes negative (backfilled history)
      for (let i = Math.floor(random() * 6); i > 0; i--) {
        pos += 1 + Math.floor(random() * 3);
        timeline.push(
          random() < 0.5
            ? { position: pos, type: 'm.room.member', content: { membership: pick(['join', 'leave', 'invite', 'ban']) } }
            : {
                position: pos,
                type: 'm.room.history_visibility',
                content: { history_visibility: pick(['shared', 'joined', 'invited', 'world_readable']) },
              },
        );
      }
      const current = pick([undefined, 'join', 'leave', 'invite', 'ban']);
      const filter = new VisibilityFilter(timeline, current);
      const ranges = visibleRanges(timeline, current);
      for (let p = -6; p <= pos + 3; p++) {
        const expected = p <= filter.cutoff && filter.canSee({ stream_ordering: p } as EventRow);
        const actual = ranges.some((r) => r.lo <= p && p <= r.hi);
        expect(actual, JSON.stringify({ timeline, current, p, ranges })).toBe(expected);
      }
      // Ranges are disjoint, ordered and merged.
      for (let i = 1; i < ranges.length; i++) expect(ranges[i]!.lo).toBeGreaterThan(ranges[i - 1]!.hi + 1);
    }
  });
});

describe('search tokens and terms', () => {
  it('round-trips cursors and refuses anything else', () => {
    const cursors = [
      { order: 'recent' as const, position: -12 },
      { order: 'rank' as const, rank: 0.1, position: 40, group: { key: 'room_id' as const, value: '!r:x' } },
    ];
    for (const c of cursors) expect(decodeSearchToken(encodeSearchToken(c))).toEqual(c);
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    for (const bad of [
      '',
      '***',
      b64([1]),
      b64({ o: 'rank', p: 1 }),
      b64({ o: 'recent', p: 1.5 }),
      b64({ o: 'recent', p: 1, gk: 'type', gv: 'x' }),
    ])
      expect(() => decodeSearchToken(bad), bad).toThrow(expect.objectContaining({ errcode: 'M_INVALID_PARAM' }));
  });

  it('builds a prefix tsquery from words only, and finds highlights', () => {
    expect(searchWords("Don't  STOP-me now!")).toEqual(['don', 't', 'stop', 'me', 'now']);
    expect(prefixQuery(searchWords("x' | !y:* & (z"))).toBe("'x':* & 'y':* & 'z':*");
    expect(highlightsIn('Martians and men, MARTIANS!', ['mart'])).toEqual(['Martians', 'MARTIANS']);
  });
});
