import type { FastifyInstance } from 'fastify';
import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';

/** How long close() lets requests in progress finish before it cuts their connections. */
export const CLOSE_GRACE_MS = 10_000;

/**
 * Makes `server.close()` (which app.close() awaits) return once the requests in progress are
 * answered, whatever the clients do with their connections.
 *
 * server.close() waits until every connection has closed. Node closes keep-alive connections
 * that are idle at that moment, but not a connection on which no request has arrived yet: it
 * counts as busy until its headers timeout (60 s, checked every 30 s). Clients leave such
 * connections open routinely: undici (Node's fetch, hence matrix-js-sdk and the bridges) opens
 * a new pooled socket when every socket is busy, and if the request that asked for it was
 * aborted or went out on another socket meanwhile, the new one stays in the pool, connected and
 * unused. A browser's speculative preconnect does the same. One such socket, in the fetch pool
 * that matrix-js-sdk and the bridge share and opened as they stopped, kept the platform's close in
 * test/e2e/bridge-fakenet.test.ts from returning for over 15 s in half the runs on a loaded
 * machine.
 *
 * So connections are tracked with the requests in progress on each. Once closing, a connection
 * with none is ended at once and any other as soon as its last response is out; after
 * `graceMs`, whatever is left is destroyed and the abandoned requests are reported.
 */
export class ConnectionTracker {
  private connections = new Map<Socket, Set<IncomingMessage>>();
  private closing = false;

  constructor(private server: Server) {
    server.on('connection', (socket: Socket) => {
      this.connections.set(socket, new Set());
      socket.once('close', () => this.connections.delete(socket));
      // Accepted in the instant close() began (the listener was still open): not kept either.
      if (this.closing) socket.destroySoon();
    });
    server.on('request', (req: IncomingMessage, res) => {
      const socket = req.socket;
      const inProgress = this.connections.get(socket);
      if (!inProgress) return; // a request injected without a connection (app.inject)
      inProgress.add(req);
      res.once('close', () => {
        inProgress.delete(req);
        // destroySoon: the response is flushed (and the connection half-closed) before it goes.
        if (this.closing && inProgress.size === 0) socket.destroySoon();
      });
    });
  }

  /**
   * Called as the server starts closing: keeps no connection open for further requests (the idle
   * ones end now, the others once answered), and after `graceMs` destroys what is left, passing
   * the requests it abandons ("GET /path") to `onAbandoned`.
   */
  drain(graceMs: number, onAbandoned: (requests: string[]) => void): void {
    if (this.closing) return;
    this.closing = true;
    for (const [socket, inProgress] of this.connections) if (inProgress.size === 0) socket.destroySoon();
    const timer = setTimeout(() => {
      const abandoned = this.destroyAll();
      if (abandoned.length) onAbandoned(abandoned);
    }, graceMs).unref();
    this.server.once('close', () => clearTimeout(timer));
  }

  private destroyAll(): string[] {
    const abandoned: string[] = [];
    for (const [socket, inProgress] of this.connections) {
      // The path only: a query string can carry an access token.
      for (const req of inProgress) abandoned.push(`${req.method} ${(req.url ?? '').split('?')[0]}`);
      socket.destroy();
    }
    this.connections.clear();
    return abandoned;
  }

  /** Open connections (tests). */
  get size(): number {
    return this.connections.size;
  }
}

/**
 * Makes `app.close()` of a listening Fastify app return once the requests in progress are
 * answered (see ConnectionTracker), or after `graceMs` with the abandoned requests logged.
 */
export function closeConnectionsOnClose(app: FastifyInstance, graceMs = CLOSE_GRACE_MS): void {
  const connections = new ConnectionTracker(app.server);
  // preClose runs before Fastify calls server.close() (and after it stops routing new requests).
  app.addHook('preClose', async () =>
    connections.drain(graceMs, (abandoned) =>
      app.log.warn({ abandoned, graceMs }, 'shutdown: requests still in progress, connections closed'),
    ),
  );
}
