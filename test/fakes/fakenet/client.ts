/**
 * FakenetClient: one login's live client on the fake network (the NetworkClient a Telegram or
 * WhatsApp connector would provide). The core builds it with FakenetConnector.loadLogin(ctx) and
 * calls connect(); the client reads its session token from `ctx.keys` (namespace `login`, key
 * `session`), reports CONNECTED / TRANSIENT_DISCONNECT / BAD_CREDENTIALS / LOGGED_OUT /
 * UNKNOWN_ERROR (`fakenet-stream-replaced`, when the session connected elsewhere) through
 * ctx.setState and never throws for network trouble; pushes become RemoteEvents via ctx.emit in
 * network order. It keeps no caches, so it registers nothing with ctx.memory: an idle client is
 * this object plus its connection.
 *
 * Nothing that happens while it is offline is lost: on every connect it asks the network for the
 * difference since the last pts it processed (metadata `pts`, saved once the core applied the
 * updates, see update-cursor.ts) and emits it before the live pushes and before reporting
 * CONNECTED (update-stream.ts), as bridges/README.md asks of every connector.
 */
import type { ChatInfo, ResolvedIdentifier, UserInfo } from '../../../bridges/core/network/chat-info.js';
import type { PortalKey, RemoteChatId, RemoteMessageId, RemoteUserId } from '../../../bridges/core/network/ids.js';
import type { LoginContext } from '../../../bridges/core/network/login-context.js';
import type {
  MatrixEdit,
  MatrixMessage,
  MatrixMessageResponse,
  MatrixReaction,
  MatrixReadReceipt,
  MatrixRedaction,
  MatrixTyping,
} from '../../../bridges/core/network/matrix-action.js';
import { NetworkError, type NetworkClient } from '../../../bridges/core/network/network-client.js';
import type { RemoteEvent, RemoteMessage } from '../../../bridges/core/network/remote-event.js';
import { LOGIN_SECRETS_NAMESPACE } from '../../../bridges/core/crypto-store/login-secrets.js';
import { fromMessageContent, toMessageContent } from './convert.js';
import { FakeConnectError, FakeNetworkError } from './errors.js';
import type { FakeConnection, ConnectionSignal } from './fake-connection.js';
import type { FakeNetwork } from './fake-network.js';
import { makeChatId, makeMessageId, makeUserId, parseChatId, parseLoginId, parseMessageId, parseUserId } from './ids.js';
import type { CloseReason, FakeMessage, FakeUser, NetEvent } from './types.js';
import { UpdateCursor } from './update-cursor.js';
import { UpdateStream } from './update-stream.js';

/** The key under LOGIN_SECRETS_NAMESPACE holding the session token (UTF-8). */
export const SESSION_SECRET = 'session';

/** The login metadata key holding the last pts processed (see UpdateCursor). */
export const PTS_METADATA = 'pts';

export class FakenetClient implements NetworkClient {
  private conn: FakeConnection | undefined;
  private loggedIn = true;
  private attempt = 0;
  private connecting: Promise<void> = Promise.resolve();
  private readonly userId: string;
  private readonly cursor: UpdateCursor;

  constructor(
    private readonly net: FakeNetwork,
    private readonly ctx: LoginContext,
  ) {
    this.userId = parseLoginId(ctx.loginId);
    const saved = ctx.metadata[PTS_METADATA];
    this.cursor = new UpdateCursor(
      typeof saved === 'number' ? saved : undefined,
      (pts) => ctx.saveMetadata({ ...ctx.metadata, [PTS_METADATA]: pts }),
      ctx.signal,
    );
    // Lease lost or pool stopping: drop the connection at once (no state: the core knows why).
    ctx.signal.addEventListener('abort', () => void this.disconnect(), { once: true });
  }

  /**
   * Attempts run one after another (a second connect waits for the first), and an attempt
   * overtaken by disconnect(), a newer connect() or an abort closes what it opened without
   * reporting: two attempts of one client must never race each other into a "kick".
   */
  connect(signal: AbortSignal): Promise<void> {
    const attempt = ++this.attempt;
    const run = this.connecting.then(() => this.connectOnce(signal, attempt));
    this.connecting = run.catch(() => {});
    return run;
  }

  async disconnect(): Promise<void> {
    this.attempt++;
    this.closeConn();
  }

  isLoggedIn(): boolean {
    return this.loggedIn;
  }

  async logoutRemote(): Promise<void> {
    if (this.conn) await this.conn.logout();
    else {
      const bytes = await this.ctx.keys.get(LOGIN_SECRETS_NAMESPACE, SESSION_SECRET);
      if (bytes) this.net.revokeSession(Buffer.from(bytes).toString('utf8'));
    }
    this.loggedIn = false;
    this.closeConn();
  }

  async getChatInfo(chatId: RemoteChatId): Promise<ChatInfo> {
    const chat = await this.call((c) => c.chat(parseChatId(chatId).chatId));
    const members = [...chat.members].map(([userId, powerLevel]) => ({
      userId: makeUserId(userId),
      membership: 'join' as const,
      powerLevel,
    }));
    if (chat.kind === 'dm') {
      const other = [...chat.members.keys()].find((u) => u !== this.userId) ?? this.userId;
      return { type: 'dm', otherUserId: makeUserId(other), members };
    }
    return { type: 'group', ...(chat.name !== undefined ? { name: chat.name } : {}), members };
  }

  async getUserInfo(userId: RemoteUserId): Promise<UserInfo> {
    return this.userInfo(await this.call((c) => c.user(parseUserId(userId))));
  }

  async handleMatrixMessage(msg: MatrixMessage): Promise<MatrixMessageResponse> {
    const content = await fromMessageContent(msg.content);
    const opts = { idempotencyKey: msg.idempotencyKey, ...(msg.replyTo ? { replyTo: parseMessageId(msg.replyTo) } : {}) };
    const sent = await this.call((c) => c.send(parseChatId(msg.portal.chatId).chatId, content, opts));
    return { remoteId: makeMessageId(sent.id), timestamp: sent.ts };
  }

  async handleMatrixEdit(msg: MatrixEdit): Promise<void> {
    const content = await fromMessageContent(msg.content);
    await this.call((c) => c.edit(parseChatId(msg.portal.chatId).chatId, parseMessageId(msg.targetId), content));
  }

  async handleMatrixRedaction(msg: MatrixRedaction): Promise<void> {
    const chatId = parseChatId(msg.portal.chatId).chatId;
    const t = msg.target;
    if (t.kind === 'message') await this.call((c) => c.delete(chatId, parseMessageId(t.id)));
    else await this.call((c) => c.unreact(chatId, parseMessageId(t.messageId), t.key));
  }

  /** The fake names no reactions: the core keys them by sender + emoji. */
  async handleMatrixReaction(msg: MatrixReaction): Promise<{ reactionId?: undefined }> {
    await this.call((c) => c.react(parseChatId(msg.portal.chatId).chatId, parseMessageId(msg.targetId), msg.key));
    return {};
  }

  async handleMatrixReadReceipt(msg: MatrixReadReceipt): Promise<void> {
    await this.call((c) => c.markRead(parseChatId(msg.portal.chatId).chatId, parseMessageId(msg.upToId)));
  }

  async handleMatrixTyping(msg: MatrixTyping): Promise<void> {
    await this.call((c) => c.typing(parseChatId(msg.portal.chatId).chatId, msg.typing ? msg.timeoutMs : 0));
  }

  async fetchMessages(params: { chatId: RemoteChatId; before?: RemoteMessageId; limit: number }) {
    const { chatId } = parseChatId(params.chatId);
    const before = params.before === undefined ? undefined : parseMessageId(params.before);
    const page = await this.call((c) => c.history(chatId, before, params.limit));
    return { messages: page.messages.map((m) => this.remoteMessage(m)), hasMore: page.hasMore };
  }

  async getContacts(): Promise<ResolvedIdentifier[]> {
    const contacts = await this.call((c) => c.contacts());
    return Promise.all(contacts.map((u) => this.resolved(u, false)));
  }

  async resolveIdentifier(identifier: string, createChat: boolean): Promise<ResolvedIdentifier | undefined> {
    const user = await this.call((c) => c.resolve(identifier));
    return user && this.resolved(user, createChat);
  }

  // ---- internals ---------------------------------------------------------------------------

  private async connectOnce(signal: AbortSignal, attempt: number): Promise<void> {
    const stale = () => attempt !== this.attempt || signal.aborted || this.ctx.signal.aborted;
    this.closeConn();
    if (stale()) return;
    let token: string;
    try {
      const bytes = await this.ctx.keys.get(LOGIN_SECRETS_NAMESPACE, SESSION_SECRET);
      if (stale()) return;
      if (!bytes) {
        this.loggedIn = false;
        return this.ctx.setState({
          stateEvent: 'BAD_CREDENTIALS',
          error: 'fakenet-no-session',
          message: 'No session stored for this login',
        });
      }
      token = Buffer.from(bytes).toString('utf8');
    } catch {
      if (stale()) return;
      return this.ctx.setState({ stateEvent: 'UNKNOWN_ERROR', error: 'fakenet-keystore', message: 'Could not read the session' });
    }
    let conn: FakeConnection | undefined;
    const stream = new UpdateStream(this.cursor, (e, done) => this.onUpdate(e, done));
    try {
      conn = await this.net.connect(token, (s: ConnectionSignal) => (s.type === 'closed' ? this.onClosed(conn, s.reason) : stream.push(s)));
    } catch (err) {
      if (!stale()) this.reportConnectFailure(err);
      return;
    }
    if (stale()) return conn.close();
    this.conn = conn;
    this.loggedIn = true;
    // What happened while offline is emitted before CONNECTED, so it is queued ahead of the core's
    // history catch-up (which then finds those messages known) and of the outbox's waiting sends.
    try {
      if (!(await stream.catchUp(conn, stale))) return conn.close();
    } catch (err) {
      // The connection went away mid-way (already reported by onClosed) or the network refused.
      if (stale() || conn !== this.conn) return;
      this.closeConn();
      return this.ctx.setState({ stateEvent: 'TRANSIENT_DISCONNECT', error: 'fakenet-sync-failed', message: String(err) });
    }
    this.ctx.setState({ stateEvent: 'CONNECTED', info: { remote_id: this.userId } });
  }

  private async resolved(user: FakeUser, createChat: boolean): Promise<ResolvedIdentifier> {
    const chatId = await this.call((c) => (createChat ? c.openDm(user.id) : c.findDm(user.id)));
    return { userId: makeUserId(user.id), info: this.userInfo(user), ...(chatId ? { chatId: makeChatId(chatId) } : {}) };
  }

  private userInfo(u: FakeUser): UserInfo {
    const info: UserInfo = { userId: makeUserId(u.id), name: u.name, identifiers: [u.phone] };
    const avatar = u.avatar;
    if (avatar) info.avatar = { avatarId: avatar.id, mimeType: avatar.mimeType, open: async () => this.net.openAvatar(u.id, avatar.id) };
    return info;
  }

  /** Runs a network call on the live connection; the network's refusals become NetworkErrors. */
  private async call<R>(fn: (c: FakeConnection) => Promise<R>): Promise<R> {
    const conn = this.conn;
    if (!conn?.open) throw new NetworkError('fakenet-not-connected', 'Not connected to the fake network', true);
    try {
      return await fn(conn);
    } catch (err) {
      if (err instanceof FakeNetworkError) throw new NetworkError(`fakenet-${err.code}`, err.message, err.retryable);
      throw err;
    }
  }

  private closeConn(): void {
    const conn = this.conn;
    this.conn = undefined;
    conn?.close();
  }

  private reportConnectFailure(err: unknown): void {
    const reason = err instanceof FakeConnectError ? err.reason : undefined;
    if (reason === 'bad_credentials' || reason === 'logged_out') this.loggedIn = false;
    if (reason === 'bad_credentials')
      this.ctx.setState({ stateEvent: 'BAD_CREDENTIALS', error: 'fakenet-bad-credentials', message: 'The session was rejected' });
    else if (reason === 'logged_out')
      this.ctx.setState({ stateEvent: 'LOGGED_OUT', error: 'fakenet-logged-out', message: 'Logged out from the network' });
    else if (reason === 'transient')
      this.ctx.setState({ stateEvent: 'TRANSIENT_DISCONNECT', error: 'fakenet-connect-failed', message: 'Could not connect' });
    else this.ctx.setState({ stateEvent: 'UNKNOWN_ERROR', error: 'fakenet-connect-error', message: 'Unexpected error while connecting' });
  }

  /** An update for the core; `done` (logged updates only) learns whether the core applied it. */
  private onUpdate(e: NetEvent, done?: (applied: boolean) => void): void {
    const ev = this.toRemoteEvent(e);
    if (ev) this.ctx.emit(ev, done);
    else done?.(true);
  }

  private onClosed(conn: FakeConnection | undefined, reason: CloseReason): void {
    // Only the current connection's end is news; an old one we replaced or closed is not.
    if (conn === undefined || conn !== this.conn) return;
    this.conn = undefined;
    if (reason === 'transient')
      this.ctx.setState({ stateEvent: 'TRANSIENT_DISCONNECT', error: 'fakenet-connection-lost', message: 'Connection lost' });
    else if (reason === 'logged_out') {
      this.loggedIn = false;
      this.ctx.setState({ stateEvent: 'LOGGED_OUT', error: 'fakenet-logged-out', message: 'Logged out from the network' });
    } else if (reason === 'replaced') {
      // As mautrix-whatsapp on StreamReplaced: another client took the session over.
      this.ctx.setState({ stateEvent: 'UNKNOWN_ERROR', error: 'fakenet-stream-replaced', message: 'The session connected from elsewhere' });
    }
  }

  private portal(chatId: string): PortalKey {
    // portalsPerLogin 'dm-only': a DM is one portal per receiving login, groups are shared.
    return parseChatId(chatId).kind === 'dm' ? { chatId: makeChatId(chatId), receiver: this.ctx.loginId } : { chatId: makeChatId(chatId) };
  }

  private sender(userId: string) {
    return userId === this.userId ? { userId: makeUserId(userId), isFromMe: true } : { userId: makeUserId(userId) };
  }

  private remoteMessage(m: Pick<FakeMessage, 'chatId' | 'id' | 'senderId' | 'ts' | 'content' | 'replyTo'>): RemoteMessage {
    const out: RemoteMessage = {
      type: 'message',
      portal: this.portal(m.chatId),
      sender: this.sender(m.senderId),
      timestamp: m.ts,
      id: makeMessageId(m.id),
      content: toMessageContent(m.content, (mediaId) => this.call((c) => c.openMedia(mediaId))),
    };
    if (m.replyTo !== undefined) out.replyTo = makeMessageId(m.replyTo);
    return out;
  }

  private toRemoteEvent(e: NetEvent): RemoteEvent | undefined {
    const base = { portal: this.portal(e.chatId), sender: this.sender(e.senderId), timestamp: e.ts };
    switch (e.type) {
      case 'message':
        return this.remoteMessage(e);
      case 'edit':
        return {
          ...base,
          type: 'edit',
          targetId: makeMessageId(e.messageId),
          content: toMessageContent(e.content, (mediaId) => this.call((c) => c.openMedia(mediaId))),
        };
      case 'delete':
        return { ...base, type: 'delete', targetId: makeMessageId(e.messageId) };
      case 'reaction':
      case 'reaction_remove':
        return { ...base, type: e.type, targetId: makeMessageId(e.messageId), key: e.emoji };
      case 'read':
        return { ...base, type: 'read_receipt', upToId: makeMessageId(e.upToId) };
      case 'typing':
        return { ...base, type: 'typing', timeoutMs: e.timeoutMs };
      case 'chat_info':
        return { ...base, type: 'chat_info_change', change: { name: e.name } };
      case 'members':
        return {
          ...base,
          type: 'member_change',
          members: e.changes.map((c) => ({ userId: makeUserId(c.userId), membership: c.membership })),
        };
      case 'chat_delete':
        return { ...base, type: 'chat_delete' };
    }
  }
}
