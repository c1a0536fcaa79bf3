import type { AppserviceTransport, TransactionBody } from './transport.js';
import { TransportError } from './transport.js';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** Remote appservices over http(s): node fetch with a timeout; any non-2xx answer is a failure. */
export class HttpTransport implements AppserviceTransport {
  readonly local: boolean;
  private base: string;

  constructor(
    url: string,
    private hsToken: string,
    private timeoutMs = 30_000,
  ) {
    this.base = url.replace(/\/+$/, '');
    let host = '';
    try {
      host = new URL(url).hostname;
    } catch {
      /* an invalid url fails on first use */
    }
    this.local = LOOPBACK.has(host);
  }

  private async request(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<{ status: number; json: unknown }> {
    let res: Response;
    try {
      res = await fetch(this.base + path, {
        method,
        headers: { authorization: `Bearer ${this.hsToken}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(this.timeoutMs)]) : AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new TransportError(`${method} ${path}: ${(err as Error).message}`);
    }
    const text = await res.text().catch(() => '');
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : {};
    } catch {
      json = text;
    }
    return { status: res.status, json };
  }

  async sendTransaction(txnId: string, body: TransactionBody, signal?: AbortSignal): Promise<void> {
    const r = await this.request('PUT', `/_matrix/app/v1/transactions/${encodeURIComponent(txnId)}`, body, signal);
    if (r.status < 200 || r.status >= 300) throw new TransportError(`transaction ${txnId}: HTTP ${r.status}`, r.status, r.json);
  }

  async queryUser(userId: string): Promise<boolean> {
    const r = await this.request('GET', `/_matrix/app/v1/users/${encodeURIComponent(userId)}`).catch(() => undefined);
    return !!r && r.status >= 200 && r.status < 300;
  }

  async queryAlias(alias: string): Promise<boolean> {
    const r = await this.request('GET', `/_matrix/app/v1/rooms/${encodeURIComponent(alias)}`).catch(() => undefined);
    return !!r && r.status >= 200 && r.status < 300;
  }

  async thirdParty(path: string, query: Record<string, string>): Promise<unknown> {
    const qs = new URLSearchParams(query).toString();
    const r = await this.request('GET', `/_matrix/app/v1/thirdparty${path}${qs ? `?${qs}` : ''}`);
    if (r.status < 200 || r.status >= 300) throw new TransportError(`thirdparty ${path}: HTTP ${r.status}`, r.status, r.json);
    return r.json;
  }

  async ping(transactionId?: string): Promise<void> {
    const r = await this.request('POST', '/_matrix/app/v1/ping', transactionId ? { transaction_id: transactionId } : {});
    if (r.status < 200 || r.status >= 300) throw new TransportError(`ping: HTTP ${r.status}`, r.status, r.json);
  }
}
