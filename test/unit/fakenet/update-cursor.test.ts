import { describe, expect, it } from 'vitest';
import { UpdateCursor } from '../../fakes/fakenet/update-cursor.js';

/** A cursor whose saves are recorded; `flushed()` lets pending saves finish. */
function cursor(start: number | undefined, signal = new AbortController().signal) {
  const saves: number[] = [];
  const c = new UpdateCursor(start, async (pts) => void saves.push(pts), signal);
  const flushed = () => new Promise((r) => setTimeout(r, 0));
  return { c, saves, flushed };
}

describe('UpdateCursor', () => {
  it('saves the highest pts with every update up to it processed, whatever order they finish in', async () => {
    const { c, saves, flushed } = cursor(10);
    c.processed(12);
    c.processed(13);
    await flushed();
    expect(c.position).toBe(10);
    expect(saves).toEqual([]);
    c.processed(11);
    await flushed();
    expect(c.position).toBe(13);
    expect(saves).toEqual([13]);
  });

  it('coalesces saves: one in flight, then the newest position', async () => {
    const { c, saves, flushed } = cursor(0);
    for (let pts = 1; pts <= 5; pts++) c.processed(pts);
    await flushed();
    expect(saves).toEqual([1, 5]);
  });

  it('ignores what is at or below the position (replays)', async () => {
    const { c, saves, flushed } = cursor(5);
    c.processed(3);
    c.processed(5);
    await flushed();
    expect(c.position).toBe(5);
    expect(saves).toEqual([]);
  });

  it('saves nothing once the login was aborted (the lease went to another worker)', async () => {
    const abort = new AbortController();
    const { c, saves, flushed } = cursor(0, abort.signal);
    abort.abort();
    c.processed(1);
    await flushed();
    expect(saves).toEqual([]);
  });

  it('moves over a gap once too many later updates are waiting behind it', async () => {
    const { c, flushed } = cursor(0);
    for (let pts = 2; pts <= 1_000; pts++) c.processed(pts);
    expect(c.position).toBe(0);
    c.processed(1_001);
    c.processed(1_002);
    await flushed();
    expect(c.position).toBe(1_002);
  });
});
