import type { Readable } from 'node:stream';
import type { Logger } from '../../../homeserver/runtime/logger.js';

/** A failed Client-Server API call: the HTTP status and the Matrix errcode, when the server sent one. */
export class MatrixHttpError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly errcode: string | undefined,
    message: string,
  ) {
    super(`${method} ${path}: ${status} ${errcode ?? ''} ${message}`.trim());
  }
}

export interface RequestOptions {
  /** Masquerade as this user (`?user_id=`, spec: "Identity assertion"). Omit to act as the bridge bot. */
  asUser?: string;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  /** A raw body streamed as it is (media upload); never buffered whole. */
  stream?: { body: Readable; contentType: string; length?: number };
  /** Resolve with the response stream instead of JSON (media download). */
  raw?: boolean;
}

/**
 * The bridge's Client-Server API client: every call carries the appservice's as_token and may
 * masquerade as a ghost. Works against any homeserver: it only speaks the spec over HTTP. Node's
 * fetch keeps connections alive (undici's pool), so steady traffic reuses a few sockets.
 * The token is only ever put in the Authorization header; it is never logged or put in errors.
 */
export class CsClient {
  private base: string;

  constructor(
    homeserverUrl: string,
    private asToken: string,
    private log?: Logger,
    private timeoutMs = 60_000,
  ) {
    this.base = homeserverUrl.replace(/\/+$/, '');
  }

  async request<T = Record<string, unknown>>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.fetch(method, path, opts);
    if (opts.raw) return res as unknown as T;
    const text = await res.text();
    return (text ? JSON.parse(text) : {}) as T;
  }

  /** Like request() with `raw`, typed: the response (body unread) of a successful call. */
  async requestRaw(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
    return this.fetch(method, path, opts);
  }

  private async fetch(method: string, path: string, opts: RequestOptions): Promise<Response> {
    const url = new URL(this.base + path);
    if (opts.asUser) url.searchParams.set('user_id', opts.asUser);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { authorization: `Bearer ${this.asToken}` };
    let body: BodyInit | undefined;
    const init: RequestInit & { duplex?: 'half' } = { method, headers, signal: AbortSignal.timeout(this.timeoutMs) };
    if (opts.stream) {
      headers['content-type'] = opts.stream.contentType;
      if (opts.stream.length !== undefined) headers['content-length'] = String(opts.stream.length);
      // fetch streams an async iterable body chunk by chunk (duplex 'half' is required for it).
      body = opts.stream.body as unknown as BodyInit;
      init.duplex = 'half';
    } else if (opts.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.body);
    }
    init.body = body;
    const res = await fetch(url, init);
    if (res.ok) return res;
    const text = await res.text().catch(() => '');
    let errcode: string | undefined;
    let error = text.slice(0, 200);
    try {
      const j = JSON.parse(text) as { errcode?: string; error?: string };
      errcode = j.errcode;
      error = j.error ?? error;
    } catch {
      /* not JSON */
    }
    // The path only: the query may name users, and the token never appears in either.
    const err = new MatrixHttpError(method, path, res.status, errcode, error);
    this.log?.debug({ method, path, status: res.status, errcode }, 'matrix request failed');
    throw err;
  }
}

export const enc = encodeURIComponent;
