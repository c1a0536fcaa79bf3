import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { FetchError, filteredLookup } from '../media/safe-fetch.js';
import type { IpFilter } from '../media/ip-filter.js';

/** What a push gateway made of one notification. */
export type GatewayOutcome =
  /** 2xx: delivered; `rejected` lists pushkeys the gateway says are no longer valid (spec). */
  | { kind: 'delivered'; rejected: string[] }
  /** Network error, timeout, 5xx or 429: worth trying again later. */
  | { kind: 'retry'; reason: string }
  /** Any other 4xx, or an address push.ip_range_blacklist refuses: retrying would not change it. */
  | { kind: 'refused'; reason: string };

/** Largest gateway answer read (Sygnal's is a few bytes: `{"rejected":[]}`). */
const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * `POST <data.url>` (spec: Push Gateway API, `/_matrix/push/v1/notify`). Gateway URLs are chosen by
 * users, so every connection's resolved address goes through the IP filter (push.ip_range_blacklist,
 * private space by default, as Synapse does for pushers) and redirects are not followed. Keep-alive
 * agents reuse connections to a gateway; a new connection is checked again.
 */
export class GatewayClient {
  private readonly http: HttpAgent;
  private readonly https: HttpsAgent;

  constructor(
    private readonly filter: IpFilter,
    private readonly timeoutMs: () => number,
  ) {
    const lookup = filteredLookup(filter);
    this.http = new HttpAgent({ keepAlive: true, maxSockets: 16, lookup });
    this.https = new HttpsAgent({ keepAlive: true, maxSockets: 16, lookup });
  }

  async post(url: string, body: unknown, signal?: AbortSignal): Promise<GatewayOutcome> {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      return { kind: 'refused', reason: 'invalid url' };
    }
    const host = target.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host) && !this.filter.allows(host)) return { kind: 'refused', reason: 'gateway address blocked by push.ip_range_blacklist' };
    let status: number;
    let text: string;
    try {
      ({ status, text } = await this.request(target, JSON.stringify(body), signal));
    } catch (err) {
      if (err instanceof FetchError && err.reason === 'blocked')
        return { kind: 'refused', reason: 'gateway address blocked by push.ip_range_blacklist' };
      return { kind: 'retry', reason: (err as Error).message };
    }
    if (status >= 500 || status === 429) return { kind: 'retry', reason: `HTTP ${status}` };
    if (status < 200 || status >= 300) return { kind: 'refused', reason: `HTTP ${status}: ${text.slice(0, 200)}` };
    return { kind: 'delivered', rejected: rejectedOf(text) };
  }

  /** Closes idle keep-alive connections (shutdown). */
  close(): void {
    this.http.destroy();
    this.https.destroy();
  }

  private request(url: URL, payload: string, signal?: AbortSignal): Promise<{ status: number; text: string }> {
    const timeout = AbortSignal.timeout(this.timeoutMs());
    const https = url.protocol === 'https:';
    return new Promise((resolve, reject) => {
      const req = (https ? httpsRequest : httpRequest)(
        url,
        {
          method: 'POST',
          agent: https ? this.https : this.http,
          signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
        },
        (res) => readAnswer(res).then((text) => resolve({ status: res.statusCode ?? 0, text }), reject),
      );
      req.on('error', reject);
      req.end(payload);
    });
  }
}

async function readAnswer(res: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of res as AsyncIterable<Buffer>) {
    if (text.length < MAX_ANSWER_BYTES) text += chunk.toString('utf8');
  }
  return text;
}

function rejectedOf(text: string): string[] {
  try {
    const json = JSON.parse(text) as { rejected?: unknown };
    return Array.isArray(json.rejected) ? json.rejected.filter((k): k is string => typeof k === 'string') : [];
  } catch {
    return [];
  }
}
