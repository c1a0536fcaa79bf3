import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';

/**
 * Synchronous facade over json-schema-ref-parser (which is promise-only).
 *
 * `assertResponse` has to be synchronous (tests call it inline, without `await`), yet each spec
 * file should only be dereferenced when a test first needs one of its operations. So the
 * dereferencing runs in a worker thread and the calling thread blocks on `Atomics.wait` until the
 * worker has posted the document, which is then read with `receiveMessageOnPort` (the technique
 * `synckit` uses). Structured clone keeps the shared sub-objects of the dereferenced document shared.
 *
 * The worker is started on first use (~100 ms, once per process) and is `unref`ed, so it never keeps
 * the process alive.
 */
export class SyncDereferencer {
  private port: MessagePort | undefined;
  private worker: Worker | undefined;
  private seq = 0;

  constructor(private readonly timeoutMs = 60_000) {}

  dereference(absPath: string): Record<string, unknown> {
    const port = this.ensureWorker();
    const id = ++this.seq;
    const flag = new Int32Array(new SharedArrayBuffer(4));
    port.postMessage({ id, file: absPath, flag });
    const waited = Atomics.wait(flag, 0, 0, this.timeoutMs);
    if (waited === 'timed-out') {
      throw new Error(
        `spec-validator: dereferencing ${absPath} did not finish within ${this.timeoutMs} ms ` +
          '(did the deref worker fail to start? try: node test/helpers/openapi/deref-worker.mjs)',
      );
    }
    // Skip stale replies (only possible after an earlier time-out).
    for (;;) {
      const received = receiveMessageOnPort(port) as { message: DerefReply } | undefined;
      if (!received) throw new Error(`spec-validator: deref worker signalled but sent no reply for ${absPath}`);
      const reply = received.message;
      if (reply.id !== id) continue;
      if ('error' in reply) throw new Error(`spec-validator: could not dereference ${absPath}:\n${reply.error}`);
      return reply.doc;
    }
  }

  /** Stops the worker (optional: it is unref'ed and does not hold the process open). */
  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    this.port?.close();
    this.port = undefined;
    await worker?.terminate();
  }

  private ensureWorker(): MessagePort {
    if (this.port) return this.port;
    const { port1, port2 } = new MessageChannel();
    const worker = new Worker(new URL('./deref-worker.mjs', import.meta.url), {
      workerData: { port: port2 },
      transferList: [port2],
    });
    worker.unref();
    port1.unref();
    this.worker = worker;
    this.port = port1;
    return port1;
  }
}

type DerefReply = { id: number; doc: Record<string, unknown> } | { id: number; error: string };
