import { describe, expect, it } from 'vitest';
import type { PubSub } from '../../homeserver/runtime/ports.js';
import { waitUntil } from './wait.js';

/**
 * The PubSub contract; `make` returns a pubsub the caller owns (and closes). Topics are unique per test.
 * "Not delivered" is asserted without sleeping: messages are delivered in publish order, so once a later marker
 * message has arrived, an earlier wrong delivery would already have shown up.
 */
export function pubsubContract(name: string, make: () => Promise<PubSub>): void {
  let n = 0;
  const topic = (label: string) => `${label}-${++n}-${Math.random().toString(36).slice(2)}`;

  describe(`PubSub contract: ${name}`, () => {
    it('delivers to every subscriber of a topic and not to other topics', async () => {
      const ps = await make();
      const t = topic('t');
      const other = topic('other');
      const first: unknown[] = [];
      const second: unknown[] = [];
      const elsewhere: unknown[] = [];
      const unsubs = [
        await ps.subscribe(t, (m) => first.push(m)),
        await ps.subscribe(t, (m) => second.push(m)),
        await ps.subscribe(other, (m) => elsewhere.push(m)),
      ];
      await ps.publish(t, { n: 1 });
      await ps.publish(other, 'marker');
      await waitUntil(() => first.length === 1 && second.length === 1 && elsewhere.length === 1, 'deliveries');
      expect(first).toEqual([{ n: 1 }]);
      expect(second).toEqual([{ n: 1 }]);
      expect(elsewhere).toEqual(['marker']);
      await Promise.all(unsubs.map((u) => u()));
    });

    it('keeps publish order and round-trips JSON values', async () => {
      const ps = await make();
      const t = topic('order');
      const got: unknown[] = [];
      const unsub = await ps.subscribe(t, (m) => got.push(m));
      const messages = [{ a: [1, 'two', null, true] }, 'text', 3.5, null, false, [{ nested: { deep: 'x' } }]];
      for (const m of messages) await ps.publish(t, m);
      await waitUntil(() => got.length === messages.length, 'all messages');
      expect(got).toEqual(messages);
      await unsub();
    });

    it('gives each listener its own copy of the message', async () => {
      const ps = await make();
      const t = topic('copy');
      const sent = { list: [1] };
      const got: { list: number[] }[] = [];
      const unsubs = [
        await ps.subscribe(t, (m) => {
          (m as { list: number[] }).list.push(99); // a mutating listener must not affect anyone else
          got.push(m as { list: number[] });
        }),
        await ps.subscribe(t, (m) => got.push(m as { list: number[] })),
      ];
      await ps.publish(t, sent);
      await waitUntil(() => got.length === 2, 'both deliveries');
      expect(sent).toEqual({ list: [1] });
      expect(got[1]).toEqual({ list: [1] });
      await Promise.all(unsubs.map((u) => u()));
    });

    it('stops delivering to a listener once it unsubscribes, without affecting the others', async () => {
      const ps = await make();
      const t = topic('unsub');
      const leaving: unknown[] = [];
      const staying: unknown[] = [];
      const unsubLeaving = await ps.subscribe(t, (m) => leaving.push(m));
      const unsubStaying = await ps.subscribe(t, (m) => staying.push(m));
      await ps.publish(t, 1);
      await waitUntil(() => leaving.length === 1 && staying.length === 1, 'first message');
      await unsubLeaving();
      await unsubLeaving(); // idempotent
      await ps.publish(t, 2);
      await waitUntil(() => staying.length === 2, 'second message');
      expect(leaving).toEqual([1]);
      expect(staying).toEqual([1, 2]);
      await unsubStaying();
    });

    it('can resubscribe to a topic after its last listener left', async () => {
      const ps = await make();
      const t = topic('resub');
      const before: unknown[] = [];
      const unsub = await ps.subscribe(t, (m) => before.push(m));
      await unsub();
      await ps.publish(t, 'nobody listens'); // publishing to a topic without subscribers is fine
      const after: unknown[] = [];
      const unsub2 = await ps.subscribe(t, (m) => after.push(m));
      await ps.publish(t, 'back');
      await waitUntil(() => after.length === 1, 'message after resubscribing');
      expect(after).toEqual(['back']);
      expect(before).toEqual([]);
      await unsub2();
    });

    it('keeps delivering to other listeners when one throws', async () => {
      const ps = await make();
      const t = topic('throw');
      const got: unknown[] = [];
      const unsubs = [
        await ps.subscribe(t, () => {
          throw new Error('listener failure (expected in this test)');
        }),
        await ps.subscribe(t, (m) => got.push(m)),
      ];
      await ps.publish(t, 'a');
      await ps.publish(t, 'b');
      await waitUntil(() => got.length === 2, 'both messages');
      expect(got).toEqual(['a', 'b']);
      await Promise.all(unsubs.map((u) => u()));
    });
  });
}
