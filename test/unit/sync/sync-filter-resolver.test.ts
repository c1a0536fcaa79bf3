import { describe, expect, it } from 'vitest';
import { SyncFilterResolver } from '../../../homeserver/services/sync/sync-filter-resolver.js';

function resolverOver(filters: Record<string, Record<string, unknown>>) {
  const lookups: string[] = [];
  const resolver = new SyncFilterResolver(() => async (userId, id) => {
    lookups.push(`${userId}/${id}`);
    return filters[`${userId}/${id}`];
  });
  return { resolver, lookups };
}

describe('SyncFilterResolver', () => {
  it('reads a stored filter once per user and id, and hands out the same frozen object', async () => {
    const { resolver, lookups } = resolverOver({
      '@a:t/1': { room: { timeline: { limit: 5 } } },
      '@b:t/1': { room: { timeline: { limit: 9 } } },
    });
    const first = await resolver.resolve('@a:t', '1');
    expect(await resolver.resolve('@a:t', '1')).toBe(first);
    expect(first?.room?.timeline?.limit).toBe(5);
    // The same id of another user is another filter.
    expect((await resolver.resolve('@b:t', '1'))?.room?.timeline?.limit).toBe(9);
    expect(lookups).toEqual(['@a:t/1', '@b:t/1']);
    expect(() => {
      (first!.room!.timeline as { limit: number }).limit = 50;
    }).toThrow(TypeError);
  });

  it('answers M_INVALID_PARAM for an unknown id without remembering the miss', async () => {
    const filters: Record<string, Record<string, unknown>> = {};
    const { resolver, lookups } = resolverOver(filters);
    await expect(resolver.resolve('@a:t', '7')).rejects.toMatchObject({ errcode: 'M_INVALID_PARAM', status: 400 });
    filters['@a:t/7'] = { presence: { types: [] } };
    expect(await resolver.resolve('@a:t', '7')).toEqual({ presence: { types: [] } });
    expect(lookups).toEqual(['@a:t/7', '@a:t/7']);
  });

  it('parses inline JSON once per text, and refuses bad JSON or a bad filter', async () => {
    const { resolver, lookups } = resolverOver({});
    const text = JSON.stringify({ room: { timeline: { limit: 3 } } });
    const parsed = await resolver.resolve('@a:t', text);
    expect(await resolver.resolve('@b:t', text)).toBe(parsed);
    expect(parsed?.room?.timeline?.limit).toBe(3);
    expect(lookups).toEqual([]);
    await expect(resolver.resolve('@a:t', '{nope')).rejects.toMatchObject({ errcode: 'M_INVALID_PARAM' });
    await expect(resolver.resolve('@a:t', JSON.stringify({ room: { timeline: { limit: -1 } } }))).rejects.toMatchObject({
      errcode: 'M_INVALID_PARAM',
    });
    expect(await resolver.resolve('@a:t', undefined)).toBeUndefined();
    expect(await resolver.resolve('@a:t', '')).toBeUndefined();
  });
});
