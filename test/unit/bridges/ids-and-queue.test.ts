import { describe, expect, it } from 'vitest';
import { escapeLocalpart, ghostMxid, parseGhostMxid, unescapeLocalpart } from '../../../bridges/core/ids.js';
import type { RemoteUserId } from '../../../bridges/core/network/ids.js';
import { SerialQueue } from '../../../bridges/core/portal/serial-queue.js';

describe('ghost ids', () => {
  it('escape remote ids reversibly into the localpart grammar', () => {
    for (const raw of ['u1', 'User_Name', 'with space', '+358 40 123', 'ünï©ødé', '=x=', 'a/b:c']) {
      const escaped = escapeLocalpart(raw);
      expect(escaped).toMatch(/^[a-z0-9.=-]+$/);
      expect(unescapeLocalpart(escaped)).toBe(raw);
    }
    const mxid = ghostMxid('tg', 'example.org', 'Bob_1' as RemoteUserId);
    expect(mxid).toBe('@tg_=42ob=5f1:example.org');
    expect(parseGhostMxid('tg', 'example.org', mxid)).toBe('Bob_1');
    expect(parseGhostMxid('tg', 'example.org', '@alice:example.org')).toBeUndefined();
  });
});

describe('SerialQueue', () => {
  it('runs tasks one at a time in order and reports waiting bytes', async () => {
    const q = new SerialQueue(10, () => {});
    const order: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    q.push({ bytes: 100, run: async () => (await gate, void order.push(1)) });
    q.push({ bytes: 50, run: async () => void order.push(2) });
    q.push({ bytes: 25, run: async () => void order.push(3) });
    expect(q.bytes()).toBe(75); // the first task is running, not waiting
    release();
    await q.idle();
    expect(order).toEqual([1, 2, 3]);
    expect(q.bytes()).toBe(0);
  });

  it('drops the oldest typing task when full, never a message', async () => {
    const q = new SerialQueue(3, () => {});
    const ran: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    q.push({ bytes: 1, run: async () => (await gate, void ran.push('running')) });
    q.push({ bytes: 1, droppable: true, run: async () => void ran.push('typing1') });
    q.push({ bytes: 1, run: async () => void ran.push('msg1') });
    q.push({ bytes: 1, run: async () => void ran.push('msg2') });
    q.push({ bytes: 1, run: async () => void ran.push('msg3') }); // full: typing1 goes
    q.push({ bytes: 1, run: async () => void ran.push('msg4') }); // full, nothing droppable: kept, counted
    q.push({ bytes: 1, droppable: true, run: async () => void ran.push('typing2') }); // full: dropped itself
    release();
    await q.idle();
    expect(ran).toEqual(['running', 'msg1', 'msg2', 'msg3', 'msg4']);
    expect(q.dropped).toBe(2);
    expect(q.overflows).toBe(1);
  });

  it('keeps going after a failing task and reports the error', async () => {
    const errors: unknown[] = [];
    const q = new SerialQueue(10, (e) => errors.push(e));
    const ran: number[] = [];
    q.push({ bytes: 1, run: async () => Promise.reject(new Error('boom')) });
    q.push({ bytes: 1, run: async () => void ran.push(2) });
    await q.idle();
    expect(ran).toEqual([2]);
    expect(errors).toHaveLength(1);
  });
});
