/**
 * FakeNetwork: an in-process chat network standing in for Telegram/WhatsApp servers (the only
 * fake the bridge tests use). Usage:
 *
 *   const net = new FakeNetwork();
 *   const alice = net.addUser({ name: 'Alice' });            // remote users: u1, u2, ...
 *   const bob = net.addUser({ name: 'Bob', phone: '+15550002' });
 *   const token = net.createSession(bob.id);                   // skip the login flow (benchmarks)
 *   const dm = net.dm(alice.id, bob.id);                       // chats: d<n> DMs, g<n> groups
 *   const id = net.send(alice.id, dm, { text: 'hi', entities: [{ type: 'bold', offset: 0, length: 2 }] });
 *   net.react(alice.id, dm, id, '👍'); net.edit(alice.id, dm, id, 'hey'); net.delete(alice.id, dm, id);
 *   await net.idle();                                          // every push delivered
 *   net.messages(dm)                                           // what the bridge sent, too
 *
 * Sessions: createSession / the login flows (connector.ts) give a token; connect(token, listener)
 * opens a FakeConnection. Connecting a session again kicks the older connection ('replaced', as
 * WhatsApp StreamReplaced / Telegram AUTH_KEY_DUPLICATED); kicks() counts those. revokeSession,
 * failNextConnect, failNextSend and dropConnections inject failures. Pushes are delivered on a
 * later turn of the event loop, in network order; a connection does not get its own actions back
 * (only an `own_update` marker with their pts).
 *
 * Update log (update-log.ts): every event but typing is also appended to the log of each account
 * it reaches, numbered per account (pts). A connection's pushes carry their pts; a client that
 * stored the last pts it processed asks FakeConnection.getDifference(pts) on connect for what it
 * missed while offline (Telegram updates.getDifference, WhatsApp offline notifications).
 */
import { Readable } from 'node:stream';
import { DeliveryQueue } from './delivery-queue.js';
import { FakeNetworkError } from './errors.js';
import { FakeConnection, type ConnectionListener } from './fake-connection.js';
import { LoginDesk } from './login-desk.js';
import { SessionRegistry } from './session-registry.js';
import type {
  FakeChat,
  FakeContent,
  FakeMessage,
  FakeSendContent,
  FakeUser,
  NetEvent,
  OwnUpdate,
  PushedEvent,
  SendFailure,
} from './types.js';
import { UpdateLog } from './update-log.js';

type Origin = FakeConnection | undefined;

export class FakeNetwork {
  private users = new Map<string, FakeUser>();
  private phones = new Map<string, string>();
  private chats = new Map<string, FakeChat>();
  private dms = new Map<string, string>();
  private sessions = new SessionRegistry();
  private mediaStore = new Map<string, { bytes: Uint8Array; mimeType: string }>();
  private sendFailures = new Map<string, SendFailure[]>();
  private pushes = new DeliveryQueue<PushedEvent | OwnUpdate>();
  /** Per-account update logs: FakeConnection.getState / getDifference serve them; tests read `updates.state(userId)`. */
  readonly updates: UpdateLog;
  private counter = 0;
  private lastTs = 0;
  readonly desk: LoginDesk;

  /** `updateLogCapacity`: updates each account's log keeps at least (default 10,000); older pts get `too_long`. */
  constructor(private readonly opts: { clock?: () => number; updateLogCapacity?: number } = {}) {
    this.updates = new UpdateLog(opts.updateLogCapacity ?? 10_000);
    this.desk = new LoginDesk(
      (phone) => this.userByPhone(phone)?.id ?? this.addUser({ name: phone, phone }).id,
      (userId) => this.createSession(userId),
    );
  }

  // ---- users -------------------------------------------------------------------------------

  addUser(u: { name: string; phone?: string; avatar?: { bytes: Uint8Array; mimeType: string } }): FakeUser {
    const n = ++this.counter;
    const id = `u${n}`;
    const phone = u.phone ?? `+1555${String(n).padStart(7, '0')}`;
    if (this.phones.has(phone)) throw new Error(`phone ${phone} is taken`);
    const rec: FakeUser = { id, name: u.name, phone };
    if (u.avatar) rec.avatar = { id: `a${++this.counter}`, ...u.avatar };
    this.users.set(id, rec);
    this.phones.set(phone, id);
    return rec;
  }

  user(userId: string): FakeUser {
    const u = this.users.get(userId);
    if (!u) throw new FakeNetworkError('unknown_user', `no user ${userId}`, false);
    return u;
  }

  userByPhone(phone: string): FakeUser | undefined {
    const id = this.phones.get(phone);
    return id === undefined ? undefined : this.users.get(id);
  }

  /** Profile changes are pulled by clients (getUserInfo); the network pushes no event for them. */
  updateUser(userId: string, change: { name?: string; avatar?: { bytes: Uint8Array; mimeType: string } | null }): void {
    const u = this.users.get(userId);
    if (!u) throw new FakeNetworkError('unknown_user', `no user ${userId}`, false);
    if (change.name !== undefined) u.name = change.name;
    if (change.avatar === null) delete u.avatar;
    else if (change.avatar) u.avatar = { id: `a${++this.counter}`, ...change.avatar };
  }

  /** A phone number or a user id. */
  resolve(identifier: string): FakeUser | undefined {
    return this.users.get(identifier) ?? this.userByPhone(identifier.replace(/[\s()-]/g, ''));
  }

  contactsOf(userId: string): FakeUser[] {
    const out: FakeUser[] = [];
    for (const [key, chatId] of this.dms) {
      const [a, b] = key.split('|') as [string, string];
      if (this.chats.get(chatId)?.deleted) continue;
      if (a === userId) out.push(this.user(b));
      else if (b === userId) out.push(this.user(a));
    }
    return out;
  }

  // ---- chats -------------------------------------------------------------------------------

  /** The DM chat between two users, created (silently: no push until a message) when missing. */
  dm(a: string, b: string): string {
    const existing = this.findDm(a, b);
    if (existing) return existing;
    this.user(a);
    this.user(b);
    const chat = this.newChat('dm', undefined, [
      [a, 0],
      [b, 0],
    ]);
    this.dms.set(dmKey(a, b), chat.id);
    return chat.id;
  }

  findDm(a: string, b: string): string | undefined {
    const id = this.dms.get(dmKey(a, b));
    return id !== undefined && !this.chats.get(id)?.deleted ? id : undefined;
  }

  createGroup(creatorId: string, name: string, memberIds: string[]): string {
    this.user(creatorId);
    for (const m of memberIds) this.user(m);
    const chat = this.newChat('group', name, [
      [creatorId, 100],
      ...memberIds.filter((m) => m !== creatorId).map((m) => [m, 0] as [string, number]),
    ]);
    const changes = [...chat.members.keys()].map((userId) => ({ userId, membership: 'join' as const }));
    this.push(undefined, chat, { type: 'members', chatId: chat.id, senderId: creatorId, ts: this.now(), changes });
    return chat.id;
  }

  chat(chatId: string): FakeChat {
    const c = this.chats.get(chatId);
    if (!c) throw new FakeNetworkError('unknown_chat', `no chat ${chatId}`, false);
    return c;
  }

  /** The chat as seen by one of its members (others are refused, as a server would). */
  chatFor(userId: string, chatId: string): FakeChat {
    const c = this.chat(chatId);
    if (c.deleted || !c.members.has(userId)) throw new FakeNetworkError('forbidden', `${userId} is not in ${chatId}`, false);
    return c;
  }

  chatsOf(userId: string): FakeChat[] {
    return [...this.chats.values()].filter((c) => !c.deleted && c.members.has(userId));
  }

  setAdmin(chatId: string, userId: string, powerLevel = 50): void {
    this.chatFor(userId, chatId).members.set(userId, powerLevel);
  }

  renameChat(byUserId: string, chatId: string, name: string): void {
    const chat = this.chatFor(byUserId, chatId);
    chat.name = name;
    this.push(undefined, chat, { type: 'chat_info', chatId, senderId: byUserId, ts: this.now(), name });
  }

  addMember(byUserId: string, chatId: string, userId: string): void {
    const chat = this.chatFor(byUserId, chatId);
    this.user(userId);
    if (chat.kind === 'dm') throw new FakeNetworkError('forbidden', 'a DM has exactly two members', false);
    if (chat.members.has(userId)) return;
    chat.members.set(userId, 0);
    this.push(undefined, chat, { type: 'members', chatId, senderId: byUserId, ts: this.now(), changes: [{ userId, membership: 'join' }] });
  }

  removeMember(byUserId: string, chatId: string, userId: string): void {
    const chat = this.chatFor(byUserId, chatId);
    if (chat.kind === 'dm') throw new FakeNetworkError('forbidden', 'a DM has exactly two members', false);
    if (!chat.members.has(userId)) return;
    // The removed member hears of it too, so its client can leave the portal.
    this.push(undefined, chat, { type: 'members', chatId, senderId: byUserId, ts: this.now(), changes: [{ userId, membership: 'leave' }] });
    chat.members.delete(userId);
  }

  deleteChat(byUserId: string, chatId: string): void {
    const chat = this.chatFor(byUserId, chatId);
    this.push(undefined, chat, { type: 'chat_delete', chatId, senderId: byUserId, ts: this.now() });
    chat.deleted = true;
  }

  // ---- acting as remote users (tests) --------------------------------------------------------

  /** Sends as `fromUserId` (a remote user, or the login's own account "from another device"). */
  send(fromUserId: string, chatId: string, content: FakeSendContent, opts: { replyTo?: string; idempotencyKey?: string } = {}): string {
    return this.doSend(undefined, fromUserId, chatId, content, opts).id;
  }

  edit(userId: string, chatId: string, messageId: string, content: FakeSendContent): void {
    this.doEdit(undefined, userId, chatId, messageId, content);
  }

  delete(userId: string, chatId: string, messageId: string): void {
    this.doDelete(undefined, userId, chatId, messageId);
  }

  react(userId: string, chatId: string, messageId: string, emoji: string): void {
    this.doReact(undefined, userId, chatId, messageId, emoji, true);
  }

  unreact(userId: string, chatId: string, messageId: string, emoji: string): void {
    this.doReact(undefined, userId, chatId, messageId, emoji, false);
  }

  markRead(userId: string, chatId: string, upToId: string): void {
    this.doMarkRead(undefined, userId, chatId, upToId);
  }

  typing(userId: string, chatId: string, timeoutMs = 5_000): void {
    this.doTyping(undefined, userId, chatId, timeoutMs);
  }

  // ---- observing ---------------------------------------------------------------------------

  /** Messages of a chat, oldest first; deleted ones only with `includeDeleted`. */
  messages(chatId: string, opts: { includeDeleted?: boolean } = {}): FakeMessage[] {
    return this.chat(chatId).messages.filter((m) => opts.includeDeleted || !m.deleted);
  }

  message(chatId: string, messageId: string): FakeMessage {
    const m = this.chat(chatId).messages[Number(messageId) - 1];
    if (!m || m.id !== messageId) throw new FakeNetworkError('unknown_message', `no message ${messageId} in ${chatId}`, false);
    return m;
  }

  /** Text of a text message, or the caption of a media one (handy in assertions). */
  textOf(m: FakeMessage): string | undefined {
    return m.content.kind === 'text' ? m.content.text : m.content.kind === 'media' ? m.content.caption?.text : undefined;
  }

  reactions(chatId: string, messageId: string): { userId: string; emoji: string }[] {
    const out: { userId: string; emoji: string }[] = [];
    for (const [userId, emojis] of this.message(chatId, messageId).reactions) for (const emoji of emojis) out.push({ userId, emoji });
    return out;
  }

  /** userId -> last read message id. */
  receipts(chatId: string): Map<string, string> {
    return new Map(this.chat(chatId).receipts);
  }

  /** The last typing timeout `userId` sent in the chat (0 = stopped), if any. */
  typingOf(chatId: string, userId: string): number | undefined {
    return this.chat(chatId).typing.get(userId);
  }

  media(mediaId: string): { bytes: Uint8Array; mimeType: string } {
    const m = this.mediaStore.get(mediaId);
    if (!m) throw new FakeNetworkError('unknown_media', `no media ${mediaId}`, false);
    return m;
  }

  /** Media bytes as a stream, in small chunks (the bridge must stream, not assume one buffer). */
  openMedia(mediaId: string): Readable {
    const { bytes } = this.media(mediaId);
    return Readable.from(chunks(bytes, 16 * 1024));
  }

  /** A user's avatar as a stream (a CDN: no connection needed). Fails once the avatar changed. */
  openAvatar(userId: string, avatarId: string): Readable {
    const avatar = this.users.get(userId)?.avatar;
    if (!avatar || avatar.id !== avatarId) throw new FakeNetworkError('unknown_media', `no avatar ${avatarId}`, false);
    return Readable.from(chunks(avatar.bytes, 16 * 1024));
  }

  /** Resolves once every push so far has been delivered. */
  idle(): Promise<void> {
    return this.pushes.idle();
  }

  // ---- sessions and connections ------------------------------------------------------------

  /** A new session token; `token` re-creates a known one (a network that outlives the bridge process holding it, in tests). */
  createSession(userId: string, token?: string): string {
    this.user(userId);
    return this.sessions.create(userId, token);
  }

  /** Live (not revoked) session tokens of a user. */
  sessionsOf(userId: string): string[] {
    return this.sessions.liveTokens(userId);
  }

  /** Logs a session out on the network: its connection ends with 'logged_out', reconnects fail. */
  revokeSession(token: string): void {
    this.sessions.revoke(token);
  }

  /** The next connect of that session token (or of any session of that user id) fails. */
  failNextConnect(sessionOrUser: string, kind: 'transient' | 'bad_credentials'): void {
    this.sessions.failNextConnect(sessionOrUser, kind);
  }

  /**
   * Fails the next send of `userId` through a connection: `transient` (retryable, nothing sent),
   * `permanent` (not retryable, nothing sent) or `lost_ack` (sent, but the client gets a
   * retryable error: a retry with the same idempotency key must return the original id).
   */
  failNextSend(userId: string, kind: SendFailure): void {
    const list = this.sendFailures.get(userId) ?? [];
    list.push(kind);
    this.sendFailures.set(userId, list);
  }

  /** Ends connections with 'transient' (network trouble); sessions stay valid. */
  dropConnections(userId?: string): void {
    this.sessions.drop(userId);
  }

  /**
   * Opens a connection for a session token. Resolves on a later turn; rejects with
   * FakeConnectError('bad_credentials' | 'logged_out' | 'transient'). A live connection of the
   * same session is kicked with 'replaced'.
   */
  connect(token: string, listener: ConnectionListener): Promise<FakeConnection> {
    return this.sessions.connect(token, (s) => new FakeConnection(this, s, listener));
  }

  /** Open connections, of one user or of everyone. */
  connectionCount(userId?: string): number {
    return this.sessions.connectionCount(userId);
  }

  /** How often a connection was kicked by a second connect of its session (of one session/user, or all). */
  kicks(sessionOrUser?: string): number {
    return this.sessions.kicks(sessionOrUser);
  }

  // ---- login desk shortcuts ----------------------------------------------------------------

  /** The code the network "sent by SMS" to this phone (the phone login flow checks it). */
  lastCode(phone: string): string | undefined {
    return this.desk.lastCode(phone);
  }

  /** A logged-in phone of `userId` scans a QR code shown by the qr flow. False if unknown/expired. */
  scanQr(qrData: string, userId: string): boolean {
    this.user(userId);
    return this.desk.scanQr(qrData, userId);
  }

  /** The newest still-valid QR code any login process shows. */
  lastQr(): string | undefined {
    return this.desk.lastQr();
  }

  /**
   * A rough estimate of the fake's own memory (users, chats, messages, media, sessions,
   * connections), so a benchmark can subtract the fake's share from the heap it measures.
   */
  approxBytes(): number {
    let n = this.sessions.approxBytes() + this.updates.approxBytes();
    for (const u of this.users.values()) n += 200 + 2 * (u.name.length + u.phone.length) + (u.avatar?.bytes.byteLength ?? 0);
    for (const c of this.chats.values()) {
      n += 400 + 60 * (c.members.size + c.receipts.size + c.typing.size) + 120 * c.idempotency.size;
      for (const m of c.messages) n += 220 + contentBytes(m.content) + 80 * m.reactions.size;
    }
    for (const m of this.mediaStore.values()) n += 100 + m.bytes.byteLength;
    return n;
  }

  // ---- the server's operations (shared by the test API and FakeConnection) -----------------

  /** @internal Consumes an injected send failure at its point (`before` or `after` applying). */
  takeSendFailure(userId: string, at: 'before' | 'after'): void {
    const list = this.sendFailures.get(userId);
    const next = list?.[0];
    if (!list || !next || (next === 'lost_ack') !== (at === 'after')) return;
    list.shift();
    if (list.length === 0) this.sendFailures.delete(userId);
    if (next === 'permanent') throw new FakeNetworkError('send_refused', 'the network refused the message', false);
    throw new FakeNetworkError(next === 'lost_ack' ? 'ack_lost' : 'send_failed', 'the send timed out', true);
  }

  /** @internal */
  doSend(
    origin: Origin,
    from: string,
    chatId: string,
    content: FakeSendContent,
    opts: { replyTo?: string; idempotencyKey?: string },
  ): FakeMessage {
    const chat = this.chatFor(from, chatId);
    const idemKey = opts.idempotencyKey === undefined ? undefined : `${from}\n${opts.idempotencyKey}`;
    const seen = idemKey === undefined ? undefined : chat.idempotency.get(idemKey);
    if (seen !== undefined) return this.message(chatId, seen);
    if (opts.replyTo !== undefined) this.message(chatId, opts.replyTo);
    const seq = chat.messages.length + 1;
    const msg: FakeMessage = {
      id: String(seq),
      seq,
      chatId,
      senderId: from,
      ts: this.now(),
      content: this.store(content),
      editCount: 0,
      deleted: false,
      reactions: new Map(),
    };
    if (opts.replyTo !== undefined) msg.replyTo = opts.replyTo;
    chat.messages.push(msg);
    if (idemKey !== undefined) chat.idempotency.set(idemKey, msg.id);
    const event: NetEvent = { type: 'message', chatId, id: msg.id, senderId: from, ts: msg.ts, content: msg.content };
    if (msg.replyTo !== undefined) event.replyTo = msg.replyTo;
    this.push(origin, chat, event);
    return msg;
  }

  /** @internal */
  doEdit(origin: Origin, userId: string, chatId: string, messageId: string, content: FakeSendContent): void {
    const chat = this.chatFor(userId, chatId);
    const msg = this.liveMessage(chatId, messageId);
    if (msg.senderId !== userId) throw new FakeNetworkError('forbidden', 'only the sender may edit a message', false);
    msg.content = this.store(content);
    msg.editCount++;
    this.push(origin, chat, { type: 'edit', chatId, messageId, senderId: userId, ts: this.now(), content: msg.content });
  }

  /** @internal */
  doDelete(origin: Origin, userId: string, chatId: string, messageId: string): void {
    const chat = this.chatFor(userId, chatId);
    const msg = this.liveMessage(chatId, messageId);
    if (msg.senderId !== userId && (chat.members.get(userId) ?? 0) < 50)
      throw new FakeNetworkError('forbidden', 'not allowed to delete', false);
    msg.deleted = true;
    this.push(origin, chat, { type: 'delete', chatId, messageId, senderId: userId, ts: this.now() });
  }

  /** @internal Adding an existing reaction or removing a missing one changes nothing and pushes nothing. */
  doReact(origin: Origin, userId: string, chatId: string, messageId: string, emoji: string, add: boolean): void {
    const chat = this.chatFor(userId, chatId);
    const msg = this.liveMessage(chatId, messageId);
    const mine = msg.reactions.get(userId) ?? new Set<string>();
    if (add === mine.has(emoji)) return;
    if (add) mine.add(emoji);
    else mine.delete(emoji);
    if (mine.size > 0) msg.reactions.set(userId, mine);
    else msg.reactions.delete(userId);
    this.push(origin, chat, { type: add ? 'reaction' : 'reaction_remove', chatId, messageId, senderId: userId, ts: this.now(), emoji });
  }

  /** @internal */
  doMarkRead(origin: Origin, userId: string, chatId: string, upToId: string): void {
    const chat = this.chatFor(userId, chatId);
    this.message(chatId, upToId);
    chat.receipts.set(userId, upToId);
    this.push(origin, chat, { type: 'read', chatId, senderId: userId, ts: this.now(), upToId });
  }

  /** @internal */
  doTyping(origin: Origin, userId: string, chatId: string, timeoutMs: number): void {
    const chat = this.chatFor(userId, chatId);
    chat.typing.set(userId, timeoutMs);
    this.push(origin, chat, { type: 'typing', chatId, senderId: userId, ts: this.now(), timeoutMs });
  }

  /** @internal Newest first, strictly older than `before`; deleted messages are skipped. */
  history(chatId: string, before: string | undefined, limit: number): { messages: FakeMessage[]; hasMore: boolean } {
    const all = this.chat(chatId).messages;
    let i = (before === undefined ? all.length : Math.min(Number(before), all.length + 1) - 1) - 1;
    const out: FakeMessage[] = [];
    for (; i >= 0 && out.length < limit; i--) if (!all[i]!.deleted) out.push(all[i]!);
    while (i >= 0 && all[i]!.deleted) i--;
    return { messages: out, hasMore: i >= 0 };
  }

  // ---- internals ---------------------------------------------------------------------------

  private newChat(kind: 'dm' | 'group', name: string | undefined, members: [string, number][]): FakeChat {
    const chat: FakeChat = {
      // The kind is in the id (as Telegram peers and WhatsApp JIDs carry theirs): d<n> DMs, g<n> groups.
      id: `${kind === 'dm' ? 'd' : 'g'}${++this.counter}`,
      kind,
      members: new Map(members),
      messages: [],
      receipts: new Map(),
      typing: new Map(),
      idempotency: new Map(),
      deleted: false,
    };
    if (name !== undefined) chat.name = name;
    this.chats.set(chat.id, chat);
    return chat;
  }

  private liveMessage(chatId: string, messageId: string): FakeMessage {
    const m = this.message(chatId, messageId);
    if (m.deleted) throw new FakeNetworkError('unknown_message', `message ${messageId} was deleted`, false);
    return m;
  }

  /** Media bytes go to the media store; messages keep only a reference. */
  private store(content: FakeSendContent): FakeContent {
    if (typeof content === 'string') return { kind: 'text', text: content };
    if ('location' in content) return { kind: 'location', ...content.location };
    if ('media' in content) {
      const { bytes, mimeType, kind, ...rest } = content.media;
      const mediaId = `f${++this.counter}`;
      this.mediaStore.set(mediaId, { bytes: Uint8Array.from(bytes), mimeType });
      const out: FakeContent = { kind: 'media', mediaId, mediaKind: kind ?? 'file', mimeType, size: bytes.byteLength, ...rest };
      if (content.caption) out.caption = content.caption;
      return out;
    }
    return { kind: 'text', ...content };
  }

  private now(): number {
    this.lastTs = Math.max(this.opts.clock?.() ?? Date.now(), this.lastTs + 1);
    return this.lastTs;
  }

  /**
   * Sends an event to the chat's members (as they are now). Typing is only pushed; anything else
   * goes into each member's update log first and is pushed with its pts. The connection that acted
   * gets an own_update marker instead of its own event (it knows already, but its pts moved).
   */
  private push(origin: Origin, chat: FakeChat, event: NetEvent): void {
    if (event.type === 'typing') return this.pushes.push(this.sessions.openConnections(chat.members.keys(), origin), event);
    for (const userId of chat.members.keys()) {
      const pts = this.updates.append(userId, event);
      const conns = this.sessions.openConnections([userId]);
      if (!conns.length) continue;
      const others = conns.filter((c) => c !== origin);
      if (others.length) this.pushes.push(others, { ...event, pts });
      if (others.length < conns.length) this.pushes.push([origin!], { type: 'own_update', pts });
    }
  }
}

function dmKey(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}

function contentBytes(c: FakeContent): number {
  if (c.kind === 'text') return 2 * c.text.length + 40 * (c.entities?.length ?? 0);
  if (c.kind === 'media') return 150 + 2 * (c.caption?.text.length ?? 0);
  return 80;
}

function* chunks(bytes: Uint8Array, size: number): Generator<Buffer> {
  for (let i = 0; i < bytes.byteLength; i += size) yield Buffer.from(bytes.subarray(i, i + size));
}
