import { createServer, type IncomingMessage, type Server } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Platform } from '../../../homeserver/platform.js';
import { call, enc, type TestUser } from '../../helpers/platform.js';

export interface RecordedTxn {
  txnId: string;
  eventIds: string[];
  /** The status the fake appservice answered with. */
  status: number;
  authorization?: string;
  body: Record<string, unknown>;
}

/** A real HTTP appservice on 127.0.0.1:0 recording every transaction attempt. */
export class FakeAppservice {
  mode: 'ok' | 'fail' | 'hang' = 'ok';
  attempts: RecordedTxn[] = [];
  pings: unknown[] = [];
  queries: string[] = [];
  /** Answers user/alias queries (default: ids containing "known" exist); true = 200, false = 404. */
  onQuery?: (kind: 'users' | 'rooms', id: string) => Promise<boolean> | boolean;
  /** Answers `GET /_matrix/app/v1/thirdparty/...` (default: 404). */
  onThirdParty?: (path: string, query: URLSearchParams) => { status: number; body: unknown };
  url = '';
  private server: Server;

  constructor() {
    this.server = createServer((req, res) => {
      void this.handle(req).then(
        (r) => {
          if (!r) return; // hang: never answer
          res.writeHead(r.status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(r.body));
        },
        () => {
          res.writeHead(500);
          res.end('{}');
        },
      );
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage): Promise<{ status: number; body: unknown } | undefined> {
    let text = '';
    for await (const chunk of req) text += chunk;
    const body = text ? JSON.parse(text) : {};
    const url = req.url ?? '';
    if (req.method === 'POST' && url === '/_matrix/app/v1/ping') {
      this.pings.push(body);
      return { status: 200, body: {} };
    }
    const q = /^\/_matrix\/app\/v1\/(users|rooms)\/([^/?]+)/.exec(url);
    if (req.method === 'GET' && q) {
      const id = decodeURIComponent(q[2]!);
      this.queries.push(`${q[1]}:${id}`);
      const found = this.onQuery ? await this.onQuery(q[1] as 'users' | 'rooms', id) : id.includes('known');
      return found ? { status: 200, body: {} } : { status: 404, body: { errcode: 'M_NOT_FOUND' } };
    }
    if (req.method === 'GET' && url.startsWith('/_matrix/app/v1/thirdparty/')) {
      const parsed = new URL(url, 'http://x');
      const path = parsed.pathname.slice('/_matrix/app/v1/thirdparty'.length);
      this.queries.push(`thirdparty:${path}?${parsed.searchParams}`);
      return this.onThirdParty?.(path, parsed.searchParams) ?? { status: 404, body: { errcode: 'M_NOT_FOUND' } };
    }
    const m = /^\/_matrix\/app\/v1\/transactions\/([^/?]+)/.exec(url);
    if (req.method === 'PUT' && m) {
      if (this.mode === 'hang') {
        this.attempts.push({
          txnId: decodeURIComponent(m[1]!),
          eventIds: ids(body),
          status: 0,
          authorization: req.headers.authorization,
          body,
        });
        return undefined;
      }
      const status = this.mode === 'ok' ? 200 : 503;
      this.attempts.push({ txnId: decodeURIComponent(m[1]!), eventIds: ids(body), status, authorization: req.headers.authorization, body });
      return { status, body: status === 200 ? {} : { errcode: 'M_UNKNOWN', error: 'down' } };
    }
    return { status: 404, body: { errcode: 'M_UNRECOGNIZED' } };
  }

  /** Transactions the appservice accepted, first acceptance of each txnId only. */
  get accepted(): RecordedTxn[] {
    const seen = new Set<string>();
    return this.attempts.filter((a) => a.status === 200 && !seen.has(a.txnId) && (seen.add(a.txnId), true));
  }

  get deliveredIds(): string[] {
    return this.accepted.flatMap((t) => t.eventIds);
  }
}

const ids = (body: { events?: { event_id: string }[] }) => (body.events ?? []).map((e) => e.event_id);

export function registrationFile(doc: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'causeway-as-delivery-'));
  const file = join(dir, `${doc.id as string}.yaml`);
  writeFileSync(file, JSON.stringify(doc)); // JSON is YAML
  return file;
}

export const registration = (id: string, url: string, userRegex: string, extra: Record<string, unknown> = {}) => ({
  id,
  url,
  as_token: `${id}-as-token`,
  hs_token: `${id}-hs-token`,
  sender_localpart: `${id}bot`,
  namespaces: { users: [{ exclusive: false, regex: userRegex }] },
  ...extra,
});

export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 15_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function createRoom(p: Platform, user: TestUser): Promise<string> {
  const r = await call(p, user, 'POST', '/_matrix/client/v3/createRoom', {});
  if (r.status !== 200) throw new Error(`createRoom: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.room_id;
}

let txnSeq = 0;
/** Sends n messages one after another; returns their event ids in order. */
export async function sendMessages(p: Platform, user: TestUser, roomId: string, n: number, prefix = 'm'): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await call(p, user, 'PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/t${txnSeq++}`, {
      msgtype: 'm.text',
      body: `${prefix} ${i}`,
    });
    if (r.status !== 200) throw new Error(`send: ${r.status} ${JSON.stringify(r.body)}`);
    out.push(r.body.event_id);
  }
  return out;
}

/** All event ids of a room in stream order (to compare against what an appservice got). */
export async function roomEventIds(p: Platform, roomId: string): Promise<string[]> {
  const { rows } = await p.db.query<{ event_id: string }>('SELECT event_id FROM hs_events WHERE room_id = $1 ORDER BY stream_ordering', [
    roomId,
  ]);
  return rows.map((r) => r.event_id);
}
