// Worker half of sync-deref.ts: dereferences spec files on request so that the main thread can
// block on the (inherently async) json-schema-ref-parser. Protocol, per request:
//   main -> { id, file, flag }   (flag: Int32Array over a SharedArrayBuffer, initially 0)
//   worker -> { id, doc } | { id, error }, then flag[0] = 1 + Atomics.notify
// The reply is posted before the notify, so main can read it with receiveMessageOnPort.
import { workerData } from 'node:worker_threads';

const { port } = workerData;
// Imported lazily so that a failure to load ref-parser is reported as a reply, not a silent hang.
const derefModule = import('./deref.mjs');

port.on('message', async ({ id, file, flag }) => {
  let reply;
  try {
    const { dereferenceSpecFile } = await derefModule;
    reply = { id, doc: await dereferenceSpecFile(file) };
  } catch (e) {
    reply = { id, error: e instanceof Error ? (e.stack ?? e.message) : String(e) };
  }
  try {
    port.postMessage(reply);
  } catch (e) {
    port.postMessage({ id, error: `could not send the dereferenced document back: ${String(e)}` });
  }
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
});
