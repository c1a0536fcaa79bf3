import type { AppserviceTransport, TransactionBody } from './transport.js';
import { TransportError } from './transport.js';

/** What a bridge in this process registers under its name to receive `inproc://<name>` traffic. */
export interface InprocHandler {
  /** Throwing (or rejecting) counts as a failed transaction: it is retried with the same txnId. */
  onTransaction(txnId: string, body: TransactionBody): Promise<void> | void;
  onUserQuery?(userId: string): Promise<boolean> | boolean;
  onAliasQuery?(alias: string): Promise<boolean> | boolean;
  onPing?(transactionId?: string): Promise<void> | void;
  /** `GET /_matrix/app/v1/thirdparty{path}`: the JSON answer; absent or throwing counts as "not found". */
  onThirdParty?(path: string, query: Record<string, string>): Promise<unknown> | unknown;
}

const handlers = new Map<string, InprocHandler>();

/** Registers the in-process appservice `inproc://<name>`; returns the unregister function. */
export function registerInprocAppservice(name: string, handler: InprocHandler): () => void {
  handlers.set(name, handler);
  return () => {
    if (handlers.get(name) === handler) handlers.delete(name);
  };
}

/** Bridges in the same process: a function call, no HTTP. Deliveries made while no handler is registered fail (and are retried). */
export class InprocTransport implements AppserviceTransport {
  readonly local = true;

  constructor(
    private name: string,
    readonly hsToken: string,
  ) {}

  private handler(): InprocHandler {
    const h = handlers.get(this.name);
    if (!h) throw new TransportError(`no in-process appservice registered as ${this.name}`);
    return h;
  }

  async sendTransaction(txnId: string, body: TransactionBody, signal?: AbortSignal): Promise<void> {
    // A structured copy: the bridge must not share (or mutate) the homeserver's objects.
    // Shutdown must not wait on a bridge that stopped mid-transaction: an abort counts as a failure
    // (the same txnId is re-sent later), as a dropped HTTP request does for the http transport.
    if (signal?.aborted) throw new TransportError('aborted');
    const delivered = Promise.resolve(this.handler().onTransaction(txnId, structuredClone(body)));
    if (!signal) return delivered;
    let onAbort!: () => void;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(new TransportError('aborted'));
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      await Promise.race([delivered, aborted]);
    } finally {
      signal.removeEventListener('abort', onAbort);
      delivered.catch(() => {}); // a late failure of an abandoned attempt is not unhandled
    }
  }

  async queryUser(userId: string): Promise<boolean> {
    const h = handlers.get(this.name);
    return !!(h?.onUserQuery && (await h.onUserQuery(userId)));
  }

  async queryAlias(alias: string): Promise<boolean> {
    const h = handlers.get(this.name);
    return !!(h?.onAliasQuery && (await h.onAliasQuery(alias)));
  }

  async thirdParty(path: string, query: Record<string, string>): Promise<unknown> {
    const h = this.handler();
    if (!h.onThirdParty) throw new TransportError(`thirdparty ${path}: not handled`, 404);
    return h.onThirdParty(path, structuredClone(query));
  }

  async ping(transactionId?: string): Promise<void> {
    await this.handler().onPing?.(transactionId);
  }
}
