import type { ChildProcess } from 'node:child_process';
import type { FakeNetwork } from '../../fakes/fakenet/index.js';

type Method = { [K in keyof FakeNetwork]: FakeNetwork[K] extends (...args: never[]) => unknown ? K : never }[keyof FakeNetwork];
type Signature<M extends Method> = FakeNetwork[M] extends (...args: infer A) => infer R ? { args: A; result: Awaited<R> } : never;

/** The FakeNetwork of a fakenet-worker.ts process, called over its IPC channel (arguments and results are structured clones). */
export class RemoteFakeNetwork {
  private nextId = 0;
  private pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();

  constructor(private readonly child: ChildProcess) {
    child.on('message', (msg: { id: number; result?: unknown; error?: string }) => {
      const waiter = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      if (msg.error !== undefined) waiter?.reject(new Error(`fake network: ${msg.error}`));
      else waiter?.resolve(msg.result);
    });
    child.once('exit', () => {
      for (const waiter of this.pending.values()) waiter.reject(new Error('fake network: the worker exited'));
      this.pending.clear();
    });
  }

  call<M extends Method>(method: M, ...args: Signature<M>['args']): Promise<Signature<M>['result']> {
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ id, method, args });
    });
  }
}
