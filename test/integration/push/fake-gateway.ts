import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface GatewayRequest {
  path: string;
  body: { notification: Record<string, any> };
  status: number;
}

/**
 * A push gateway on 127.0.0.1 (the test's receiver, as the appservice tests have theirs): records
 * every POST, answers 200 `{ rejected: [] }` unless told to fail the next requests or to reject
 * some pushkeys.
 */
export class FakeGateway {
  readonly requests: GatewayRequest[] = [];
  /** The next this-many requests get a 500. */
  failNext = 0;
  /** Pushkeys answered as rejected. */
  readonly reject = new Set<string>();
  private server?: Server;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let raw = '';
      req.on('data', (c: Buffer) => (raw += c.toString()));
      req.on('end', () => {
        const body = JSON.parse(raw) as GatewayRequest['body'];
        const status = this.failNext > 0 ? (this.failNext--, 500) : 200;
        this.requests.push({ path: req.url ?? '', body, status });
        const devices = (body.notification.devices ?? []) as { pushkey: string }[];
        const rejected = devices.map((d) => d.pushkey).filter((k) => this.reject.has(k));
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(status === 200 ? JSON.stringify({ rejected }) : '{"error":"try later"}');
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/_matrix/push/v1/notify`;
  }

  /** Notifications the gateway accepted (200), in arrival order. */
  get delivered(): Record<string, any>[] {
    return this.requests.filter((r) => r.status === 200).map((r) => r.body.notification);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}

export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
