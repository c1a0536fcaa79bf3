import http from 'node:http';
import net from 'node:net';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { closeConnectionsOnClose, ConnectionTracker } from '../../../homeserver/http/connections.js';

/** A server whose handler answers when `release` is called (or at once for /fast). */
async function server() {
  const pending: (() => void)[] = [];
  const srv = http.createServer((req, res) => {
    if (req.url === '/fast') return void res.end('fast');
    pending.push(() => res.end('slow'));
  });
  const tracker = new ConnectionTracker(srv);
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as net.AddressInfo).port;
  const closed = () => new Promise<void>((resolve) => srv.close(() => resolve()));
  return { srv, tracker, port, pending, closed };
}

/** A raw HTTP/1.1 client on one keep-alive connection. */
async function connect(port: number) {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  let received = '';
  socket.on('data', (d) => (received += d));
  socket.on('error', () => {});
  const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return {
    socket,
    ended,
    received: () => received,
    get: (path: string) => socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n`),
  };
}

const sockets: net.Socket[] = [];
afterEach(() => sockets.splice(0).forEach((s) => s.destroy()));

describe('ConnectionTracker', () => {
  it('does not let a connection that never sent a request hold the close', async () => {
    // Node's server.close() counts such a connection as busy until its headers timeout (60 s+):
    // an HTTP client's spare pooled socket did exactly this to the platform's shutdown.
    const s = await server();
    const idle = await connect(s.port);
    sockets.push(idle.socket);
    await new Promise((r) => setTimeout(r, 20));
    s.tracker.drain(10_000, () => {});
    const started = Date.now();
    await s.closed();
    await idle.ended;
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('lets a request in progress finish, then closes its keep-alive connection', async () => {
    const s = await server();
    const c = await connect(s.port);
    sockets.push(c.socket);
    c.get('/fast');
    await expect.poll(() => c.received()).toContain('fast'); // now an idle keep-alive connection
    const busy = await connect(s.port);
    sockets.push(busy.socket);
    busy.get('/slow');
    await expect.poll(() => s.pending.length).toBe(1);
    const abandoned: string[][] = [];
    s.tracker.drain(10_000, (r) => abandoned.push(r));
    let done = false;
    const closing = s.closed().then(() => (done = true));
    await c.ended; // idle: closed at once
    await new Promise((r) => setTimeout(r, 50));
    expect(done).toBe(false); // still answering /slow
    s.pending[0]!();
    await closing;
    await busy.ended;
    expect(busy.received()).toMatch(/^HTTP\/1.1 200[\s\S]*slow$/);
    expect(abandoned).toEqual([]);
  });

  it('cuts a request still running after the grace period and reports it', async () => {
    const s = await server();
    const busy = await connect(s.port);
    sockets.push(busy.socket);
    busy.get('/stuck?access_token=secret');
    await expect.poll(() => s.pending.length).toBe(1);
    const abandoned: string[][] = [];
    s.tracker.drain(100, (r) => abandoned.push(r));
    await s.closed();
    await busy.ended;
    expect(abandoned).toEqual([['GET /stuck']]);
    expect(s.tracker.size).toBe(0);
  });

  it('closes a listening Fastify app that a client holds a never-used connection to', async () => {
    const app = Fastify({ logger: false });
    app.get('/x', async () => ({ ok: true }));
    closeConnectionsOnClose(app, 10_000);
    await app.listen({ host: '127.0.0.1', port: 0 });
    const port = (app.server.address() as net.AddressInfo).port;
    const used = await connect(port);
    const unused = await connect(port);
    sockets.push(used.socket, unused.socket);
    used.get('/x');
    await expect.poll(() => used.received()).toContain('"ok":true');
    const started = Date.now();
    await app.close();
    await Promise.all([used.ended, unused.ended]);
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
