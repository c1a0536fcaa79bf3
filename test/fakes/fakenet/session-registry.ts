import { randomBytes } from 'node:crypto';
import { FakeConnectError } from './errors.js';
import type { FakeConnection } from './fake-connection.js';
import type { ConnectFailure } from './types.js';

/** A session token's server-side record. `conn` is its live connection, if any. */
export interface Session {
  readonly token: string;
  readonly userId: string;
  revoked: boolean;
  conn?: FakeConnection;
  kicks: number;
}

/**
 * The fake network's sessions (a completed login's token) and their single live connection.
 * One live connection per session, as the real networks enforce: connecting a session that is
 * already connected kicks the older connection ('replaced', WhatsApp StreamReplaced / Telegram
 * AUTH_KEY_DUPLICATED) and counts a kick, which the session pool's lease tests expect to stay 0.
 */
export class SessionRegistry {
  private sessions = new Map<string, Session>();
  private byUser = new Map<string, Session[]>();
  private connectFailures = new Map<string, ConnectFailure>();
  private totalKicks = 0;

  create(userId: string, token = randomBytes(16).toString('base64url')): string {
    if (this.sessions.has(token)) throw new Error('session token already exists');
    const session: Session = { token, userId, revoked: false, kicks: 0 };
    this.sessions.set(session.token, session);
    const list = this.byUser.get(userId);
    if (list) list.push(session);
    else this.byUser.set(userId, [session]);
    return session.token;
  }

  liveTokens(userId: string): string[] {
    return (this.byUser.get(userId) ?? []).filter((s) => !s.revoked).map((s) => s.token);
  }

  revoke(token: string): void {
    const s = this.sessions.get(token);
    if (!s || s.revoked) return;
    s.revoked = true;
    s.conn?.end('logged_out');
  }

  failNextConnect(sessionOrUser: string, kind: ConnectFailure): void {
    this.connectFailures.set(sessionOrUser, kind);
  }

  drop(userId?: string): void {
    for (const s of this.sessions.values()) if (userId === undefined || s.userId === userId) s.conn?.end('transient');
  }

  /** Resolves on a later turn (a network round trip); `open` builds the connection for the session. */
  async connect(token: string, open: (s: Session) => FakeConnection): Promise<FakeConnection> {
    await new Promise<void>((r) => setImmediate(r));
    const s = this.sessions.get(token);
    if (!s) throw new FakeConnectError('bad_credentials');
    const injected = this.takeConnectFailure(token) ?? this.takeConnectFailure(s.userId);
    if (injected) throw new FakeConnectError(injected);
    if (s.revoked) throw new FakeConnectError('logged_out');
    if (s.conn?.open) {
      s.kicks++;
      this.totalKicks++;
      s.conn.end('replaced');
    }
    const conn = open(s);
    s.conn = conn;
    return conn;
  }

  /** Open connections of these users, except `origin`. */
  openConnections(userIds: Iterable<string>, origin?: FakeConnection): FakeConnection[] {
    const out: FakeConnection[] = [];
    for (const id of userIds) for (const s of this.byUser.get(id) ?? []) if (s.conn?.open && s.conn !== origin) out.push(s.conn);
    return out;
  }

  connectionCount(userId?: string): number {
    let n = 0;
    for (const s of this.sessions.values()) if (s.conn?.open && (userId === undefined || s.userId === userId)) n++;
    return n;
  }

  kicks(sessionOrUser?: string): number {
    if (sessionOrUser === undefined) return this.totalKicks;
    const s = this.sessions.get(sessionOrUser);
    if (s) return s.kicks;
    return (this.byUser.get(sessionOrUser) ?? []).reduce((n, x) => n + x.kicks, 0);
  }

  approxBytes(): number {
    let n = 80 * this.byUser.size;
    for (const s of this.sessions.values()) n += 200 + (s.conn?.open ? 80 : 0);
    return n;
  }

  private takeConnectFailure(key: string): ConnectFailure | undefined {
    const f = this.connectFailures.get(key);
    if (f) this.connectFailures.delete(key);
    return f;
  }
}
