import net from 'node:net';

/** A response and the moment its last byte arrived (before any parsing or other client work). */
export interface LoadResponse {
  status: number;
  body: any;
  receivedAt: number;
}

interface Pending {
  bytes: Buffer;
  resolve: (r: LoadResponse) => void;
  reject: (e: Error) => void;
}

/**
 * A minimal keep-alive HTTP/1.1 JSON client for load generation, on raw sockets: one request per
 * connection at a time, connections pooled up to `connections`.
 *
 * Why not node:http: with 1,000 long-polls a single message wakes 10 syncs whose responses reach
 * the load generator together, and node:http's per-response work (its parser, IncomingMessage
 * streams, agent bookkeeping) ran before the next socket's bytes were even looked at, so later
 * responses were timestamped up to a millisecond after they had arrived. Here a response is
 * stamped (`receivedAt`) when its bytes are complete, and the caller's work on it is deferred to
 * the check phase, after every socket that became readable in the same turn has been stamped.
 */
export class LoadClient {
  private idle: Connection[] = [];
  private open = 0;
  private waiting: Pending[] = [];

  constructor(
    private host: string,
    private port: number,
    private connections: number,
  ) {}

  request(method: string, path: string, body: unknown, token?: string): Promise<LoadResponse> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    let head = `${method} ${path} HTTP/1.1\r\nHost: ${this.host}:${this.port}\r\n`;
    if (payload) head += `Content-Type: application/json\r\nContent-Length: ${payload.length}\r\n`;
    if (token) head += `Authorization: Bearer ${token}\r\n`;
    const bytes = payload ? Buffer.concat([Buffer.from(`${head}\r\n`), payload]) : Buffer.from(`${head}\r\n`);
    return new Promise((resolve, reject) => {
      this.dispatch({ bytes, resolve, reject });
    });
  }

  close(): void {
    for (const c of this.idle) c.socket.destroy();
    this.idle = [];
  }

  private dispatch(p: Pending): void {
    const conn = this.idle.pop();
    if (conn) return conn.send(p);
    if (this.open >= this.connections) return void this.waiting.push(p);
    this.open++;
    new Connection(
      this.host,
      this.port,
      (c) => this.release(c),
      (c) => {
        this.open--;
        this.idle = this.idle.filter((x) => x !== c);
      },
    ).send(p);
  }

  private release(c: Connection): void {
    const next = this.waiting.shift();
    if (next) c.send(next);
    else this.idle.push(c);
  }
}

class Connection {
  readonly socket: net.Socket;
  private current?: Pending;
  private buffered: Buffer = Buffer.alloc(0);

  constructor(
    host: string,
    port: number,
    private onFree: (c: Connection) => void,
    onGone: (c: Connection) => void,
  ) {
    this.socket = net.connect({ host, port, noDelay: true });
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (err) => this.fail(err));
    this.socket.on('close', () => {
      onGone(this);
      this.fail(new Error('connection closed'));
    });
  }

  send(p: Pending): void {
    this.current = p;
    this.socket.write(p.bytes);
  }

  private fail(err: Error): void {
    const p = this.current;
    this.current = undefined;
    p?.reject(err);
  }

  private onData(chunk: Buffer): void {
    this.buffered = this.buffered.length ? Buffer.concat([this.buffered, chunk]) : chunk;
    const parsed = parseResponse(this.buffered);
    if (!parsed) return;
    const receivedAt = performance.now();
    const p = this.current!;
    this.current = undefined;
    this.buffered = Buffer.alloc(0);
    if (parsed.close) this.socket.end();
    setImmediate(() => {
      if (!parsed.close) this.onFree(this);
      const text = parsed.body.toString();
      p.resolve({ status: parsed.status, body: text ? JSON.parse(text) : undefined, receivedAt });
    });
  }
}

/** A complete response in `buf` (Content-Length or chunked), or undefined while bytes are missing. */
function parseResponse(buf: Buffer): { status: number; body: Buffer; close: boolean } | undefined {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(lines[0]!.split(' ')[1]);
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  const close = headers.get('connection')?.toLowerCase() === 'close';
  const start = end + 4;
  const length = headers.get('content-length');
  if (length !== undefined) {
    const n = Number(length);
    return buf.length - start >= n ? { status, body: buf.subarray(start, start + n), close } : undefined;
  }
  if (headers.get('transfer-encoding')?.toLowerCase() !== 'chunked') return { status, body: Buffer.alloc(0), close };
  const parts: Buffer[] = [];
  for (let at = start; ;) {
    const lineEnd = buf.indexOf('\r\n', at);
    if (lineEnd < 0) return undefined;
    const size = parseInt(buf.subarray(at, lineEnd).toString('latin1'), 16);
    if (buf.length < lineEnd + 2 + size + 2) return undefined;
    if (size === 0) return { status, body: Buffer.concat(parts), close };
    parts.push(buf.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Polls /versions until the server process answers (start-up includes migrations). */
export async function waitUntilServing(client: LoadClient): Promise<void> {
  for (let i = 0; i < 300; i++) {
    try {
      if ((await client.request('GET', '/_matrix/client/versions', undefined)).status === 200) return;
    } catch {
      /* starting */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('server did not start');
}
