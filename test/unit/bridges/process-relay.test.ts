import { afterEach, describe, expect, it } from 'vitest';
import { LoginProcesses, newProcessId, newWorkerToken, ProcessRelay, workerOfProcess } from '../../../bridges/core/login/index.js';
import { MemoryPubSub } from '../../../homeserver/runtime/memory-pubsub.js';
import type { PubSub } from '../../../homeserver/runtime/ports.js';
import { FakeNetwork, FakenetConnector } from '../../fakes/fakenet/index.js';

/**
 * The relay's request/reply protocol on the memory pub/sub (the Redis adapter passes the same
 * contract suite): answers, unknown workers, owners that stop or die mid-call, and the bounds.
 */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A pub/sub whose sends can be cut, as a crashed process stops sending without a goodbye. */
function cuttable(inner: PubSub): PubSub & { cut(): void } {
  let cut = false;
  return {
    publish: (topic, message) => (cut ? Promise.resolve() : inner.publish(topic, message)),
    subscribe: (topic, listener) => inner.subscribe(topic, (m) => !cut && listener(m)),
    close: () => inner.close(),
    cut: () => {
      cut = true;
    },
  };
}

const relays: ProcessRelay[] = [];
afterEach(async () => {
  for (const r of relays.splice(0)) await r.stop();
});

async function relay(pubsub: PubSub, opts: Partial<ConstructorParameters<typeof ProcessRelay>[0]> = {}) {
  const r = new ProcessRelay({
    pubsub,
    bridgeId: 'b',
    workerToken: newWorkerToken(),
    maxWaitMs: 10_000,
    ackTimeoutMs: 150,
    beatMs: 50,
    ...opts,
  });
  await r.start();
  relays.push(r);
  return r;
}

describe('ProcessRelay', () => {
  it('carries a request to its worker and the answer back', async () => {
    const pubsub = new MemoryPubSub();
    const caller = await relay(pubsub);
    const owner = await relay(pubsub);
    const seen: unknown[] = [];
    owner.serve(async (request) => {
      seen.push(request);
      return { status: 200, body: { echoed: request } };
    });
    await expect(caller.forward(owner.workerToken, { user: '@a:x', n: 1 })).resolves.toEqual({
      status: 200,
      body: { echoed: { user: '@a:x', n: 1 } },
    });
    expect(seen).toEqual([{ user: '@a:x', n: 1 }]);
  });

  it('resolves undefined after the acknowledgement timeout when no worker has that token', async () => {
    const caller = await relay(new MemoryPubSub());
    const started = performance.now();
    await expect(caller.forward(newWorkerToken(), {})).resolves.toBeUndefined();
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('resolves undefined at once from a worker that serves nothing (its API closed)', async () => {
    const pubsub = new MemoryPubSub();
    const caller = await relay(pubsub, { ackTimeoutMs: 5_000 });
    const owner = await relay(pubsub);
    const unserve = owner.serve(async () => 'never');
    unserve();
    const started = performance.now();
    await expect(caller.forward(owner.workerToken, {})).resolves.toBeUndefined();
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('waits past the acknowledgement timeout while the owner beats', async () => {
    const pubsub = new MemoryPubSub();
    const caller = await relay(pubsub);
    const owner = await relay(pubsub);
    owner.serve(async () => {
      await sleep(600); // 4 acknowledgement timeouts, 12 beats
      return 'late but alive';
    });
    await expect(caller.forward(owner.workerToken, {})).resolves.toBe('late but alive');
  });

  it('gives up within three beats once an acknowledged owner falls silent (it died mid-step)', async () => {
    const shared = new MemoryPubSub();
    const ownerBus = cuttable(shared);
    const caller = await relay(shared);
    const owner = await relay(ownerBus);
    let acknowledged!: () => void;
    const running = new Promise<void>((r) => (acknowledged = r));
    owner.serve(() => {
      acknowledged();
      return new Promise(() => {}); // never answers
    });
    const pending = caller.forward(owner.workerToken, {});
    await running;
    await sleep(200); // alive for a while: beats arrive
    const died = performance.now();
    ownerBus.cut();
    await expect(pending).resolves.toBeUndefined();
    expect(performance.now() - died).toBeLessThan(600);
  });

  it('stops at maxWaitMs even if the owner keeps beating', async () => {
    const pubsub = new MemoryPubSub();
    const caller = await relay(pubsub, { maxWaitMs: 400 });
    const owner = await relay(pubsub);
    owner.serve(() => new Promise(() => {}));
    const started = performance.now();
    await expect(caller.forward(owner.workerToken, {})).resolves.toBeUndefined();
    expect(performance.now() - started).toBeGreaterThanOrEqual(390);
  });

  it('answers waiting forwards with undefined when it stops, and refuses past maxPending', async () => {
    const pubsub = new MemoryPubSub();
    const caller = new ProcessRelay({ pubsub, bridgeId: 'b', workerToken: newWorkerToken(), maxWaitMs: 10_000, maxPending: 1 });
    await caller.start();
    const owner = await relay(pubsub);
    owner.serve(() => new Promise(() => {}));
    const first = caller.forward(owner.workerToken, {});
    await expect(caller.forward(owner.workerToken, {})).resolves.toBeUndefined();
    await caller.stop();
    await expect(first).resolves.toBeUndefined();
    await expect(caller.forward(owner.workerToken, {})).resolves.toBeUndefined();
  });
});

describe('process ids', () => {
  it('name the worker that minted them, and nothing else is taken for one', () => {
    const token = newWorkerToken();
    const id = newProcessId(token);
    expect(id).toMatch(/^[A-Za-z0-9_-]{36}$/);
    expect(workerOfProcess(id)).toBe(token);
    expect(newProcessId(token)).not.toBe(id);
    for (const bad of ['', 'x', `${id}A`, id.slice(1), `${id.slice(0, 35)}.`, `${id.slice(0, 35)}=`])
      expect(workerOfProcess(bad)).toBeUndefined();
  });

  it('LoginProcesses: only a well-formed id of another worker is remote', () => {
    const processes = new LoginProcesses({
      connector: new FakenetConnector(new FakeNetwork()),
      onComplete: async () => undefined as never,
    });
    const other = newWorkerToken();
    expect(processes.remoteWorkerOf(newProcessId(other))).toBe(other);
    expect(processes.remoteWorkerOf(newProcessId(processes.workerToken))).toBeUndefined();
    expect(processes.remoteWorkerOf('garbage')).toBeUndefined();
  });
});
