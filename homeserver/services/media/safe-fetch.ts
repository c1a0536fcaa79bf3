import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import type { IpFilter } from './ip-filter.js';

/** Why a fetch failed: `blocked` (an address the filter refuses), `too_large`, or anything else. */
export class FetchError extends Error {
  constructor(
    readonly reason: 'blocked' | 'too_large' | 'failed',
    message: string,
  ) {
    super(message);
  }
}

export interface FetchOptions {
  filter: IpFilter;
  maxBytes: number;
  timeoutMs: number;
  maxRedirects: number;
  userAgent: string;
}

export interface FetchedResponse {
  /** The URL the body came from, after redirects. */
  url: URL;
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * GETs a URL for the URL previewer, with the protections Synapse applies to its spider:
 *
 * - every connection's address is checked AFTER DNS resolution (a custom `lookup` on the socket),
 *   so neither a hostname resolving to 127.0.0.1 nor a redirect to an internal host gets through;
 *   IP-literal hosts (which skip `lookup`) are checked before connecting;
 * - redirects are followed by hand, at most `maxRedirects`, each hop checked again;
 * - one deadline covers the whole fetch, and the body is cut off past `maxBytes`.
 *
 * Only http and https are fetched; bodies are asked for uncompressed. No proxy is used.
 */
export async function safeFetch(url: URL, opts: FetchOptions): Promise<FetchedResponse> {
  const signal = AbortSignal.timeout(opts.timeoutMs);
  let current = url;
  for (let hop = 0; ; hop++) {
    const res = await requestOnce(current, opts, signal);
    if (!REDIRECTS.has(res.statusCode ?? 0)) {
      const body = await readLimited(res, opts.maxBytes);
      return { url: current, status: res.statusCode ?? 0, headers: res.headers, body };
    }
    res.resume(); // discard the redirect's body
    const location = res.headers.location;
    if (!location) throw new FetchError('failed', 'redirect without a Location');
    if (hop >= opts.maxRedirects) throw new FetchError('failed', 'too many redirects');
    let next: URL;
    try {
      next = new URL(location, current);
    } catch {
      throw new FetchError('failed', 'redirect to an invalid URL');
    }
    if (next.protocol !== 'http:' && next.protocol !== 'https:') throw new FetchError('failed', 'redirect to a non-HTTP URL');
    current = next;
  }
}

function requestOnce(url: URL, opts: FetchOptions, signal: AbortSignal): Promise<IncomingMessage> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host) && !opts.filter.allows(host)) return Promise.reject(blocked());
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'GET',
        signal,
        agent: false, // a fresh connection per request: no pooled socket skips the address check
        lookup: filteredLookup(opts.filter),
        headers: { 'user-agent': opts.userAgent, accept: '*/*', 'accept-encoding': 'identity', 'accept-language': 'en' },
      },
      resolve,
    );
    req.on('error', (err) => reject(asFetchError(err)));
    req.end();
  });
}

/**
 * dns.lookup, minus the addresses the filter refuses. When every address is refused the
 * connection fails with a `blocked` error. Handles both callback shapes net uses (`all` or one).
 */
export function filteredLookup(filter: IpFilter): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 4);
      const ok = addresses.filter((a) => filter.allows(a.address));
      if (ok.length === 0) return callback(blocked(), '', 4);
      if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, ok);
      callback(null, ok[0]!.address, ok[0]!.family);
    });
  };
}

async function readLimited(res: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(res.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    res.destroy();
    throw new FetchError('too_large', 'response is larger than the preview size limit');
  }
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    // The request's signal also destroys the response, so a slow body ends this loop at the deadline.
    for await (const chunk of res as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > maxBytes) {
        res.destroy();
        throw new FetchError('too_large', 'response is larger than the preview size limit');
      }
      chunks.push(chunk);
    }
  } catch (err) {
    throw asFetchError(err);
  }
  return Buffer.concat(chunks);
}

function blocked(): FetchError {
  return new FetchError('blocked', 'IP address blocked by the URL preview IP range blacklist');
}

function asFetchError(err: unknown): FetchError {
  if (err instanceof FetchError) return err;
  // net wraps lookup errors; keep the original `blocked` verdict.
  const cause = (err as { cause?: unknown }).cause;
  if (cause instanceof FetchError) return cause;
  return new FetchError('failed', (err as Error).message ?? 'fetch failed');
}
