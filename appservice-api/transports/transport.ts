import type { AppserviceRegistration } from '../../homeserver/services/appservices/registry-port.js';
import { HttpTransport } from './http.js';
import { InprocTransport } from './inproc.js';

/** The body of `PUT /_matrix/app/v1/transactions/{txnId}`. */
export interface TransactionBody {
  events: unknown[];
  'de.sorunome.msc2409.ephemeral'?: unknown[];
  'de.sorunome.msc2409.to_device'?: unknown[];
  /** MSC3202 sections (org.matrix.msc3202.device_lists, one-time-key counts, fallback key types). */
  [section: string]: unknown;
}

/** The result of a query: found (200) or not (404 / M_NOT_FOUND / any failure). */
export type QueryResult = boolean;

/** How the homeserver reaches one appservice. Every method rejects on failure (non-2xx, timeout, no handler). */
export interface AppserviceTransport {
  /** Whether the target is in this process or on loopback (short backoff). */
  readonly local: boolean;
  /** `signal` aborts the attempt (shutdown); it then counts as a failure and is retried later. */
  sendTransaction(txnId: string, body: TransactionBody, signal?: AbortSignal): Promise<void>;
  queryUser(userId: string): Promise<QueryResult>;
  queryAlias(alias: string): Promise<QueryResult>;
  /** MSC2659: `POST /_matrix/app/v1/ping`. */
  ping(transactionId?: string): Promise<void>;
  /**
   * `GET /_matrix/app/v1/thirdparty{path}?{query}` (path like `/protocol/irc`); resolves with the
   * JSON body of a 2xx answer, rejects with a TransportError carrying the status otherwise.
   */
  thirdParty(path: string, query: Record<string, string>): Promise<unknown>;
}

/** The transport for a registration's url: http(s):// or inproc://<name>; undefined when there is no url. */
export function transportFor(reg: AppserviceRegistration, opts: { timeoutMs?: number } = {}): AppserviceTransport | undefined {
  if (!reg.url) return undefined;
  if (reg.url.startsWith('inproc://')) return new InprocTransport(reg.url.slice('inproc://'.length), reg.hsToken);
  return new HttpTransport(reg.url, reg.hsToken, opts.timeoutMs);
}

export class TransportError extends Error {
  constructor(
    message: string,
    /** HTTP status of the appservice's answer, when it answered. */
    readonly status?: number,
    readonly body?: unknown,
  ) {
    super(message);
  }
}
