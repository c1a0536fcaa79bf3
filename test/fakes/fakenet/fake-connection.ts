import type { Readable } from 'node:stream';
import type { Deliverable } from './delivery-queue.js';
import { FakeNetworkError } from './errors.js';
import type { FakeNetwork } from './fake-network.js';
import type { Session } from './session-registry.js';
import type { CloseReason, Difference, FakeChat, FakeMessage, FakeSendContent, FakeUser, OwnUpdate, PushedEvent } from './types.js';

export type ConnectionSignal = PushedEvent | OwnUpdate | { type: 'closed'; reason: CloseReason };
export type ConnectionListener = (signal: ConnectionSignal) => void;

/**
 * One connected session: the client's socket to the fake network. Everything a client does goes
 * through it, so a kicked or dropped connection can no longer act (its calls reject with a
 * retryable `not_connected`). Deliberately tiny: an idle connection holds its session, the network
 * and the client's listener, nothing else (5,000 of them must cost the benchmark next to nothing).
 */
export class FakeConnection implements Deliverable<PushedEvent | OwnUpdate> {
  private closed = false;

  constructor(
    private readonly net: FakeNetwork,
    private readonly session: Session,
    private readonly listener: ConnectionListener,
  ) {}

  get userId(): string {
    return this.session.userId;
  }

  get open(): boolean {
    return !this.closed;
  }

  /** Called by the delivery queue. */
  deliver(event: PushedEvent | OwnUpdate): void {
    this.listener(event);
  }

  /** Called by the network (kick, revoke, drop) or by close(); tells the client once. */
  end(reason: CloseReason): void {
    if (this.closed) return;
    this.closed = true;
    if (this.session.conn === this) this.session.conn = undefined;
    this.listener({ type: 'closed', reason });
  }

  close(): void {
    this.end('closed');
  }

  private check(): string {
    if (this.closed) throw new FakeNetworkError('not_connected', 'the connection is closed', true);
    return this.session.userId;
  }

  async send(chatId: string, content: FakeSendContent, opts: { replyTo?: string; idempotencyKey?: string } = {}) {
    const from = this.check();
    this.net.takeSendFailure(from, 'before');
    const msg = this.net.doSend(this, from, chatId, content, opts);
    // lost_ack: the message went out but the client never hears so (a retry must not duplicate it).
    this.net.takeSendFailure(from, 'after');
    return { id: msg.id, ts: msg.ts };
  }

  async edit(chatId: string, messageId: string, content: FakeSendContent): Promise<void> {
    this.net.doEdit(this, this.check(), chatId, messageId, content);
  }

  async delete(chatId: string, messageId: string): Promise<void> {
    this.net.doDelete(this, this.check(), chatId, messageId);
  }

  async react(chatId: string, messageId: string, emoji: string): Promise<void> {
    this.net.doReact(this, this.check(), chatId, messageId, emoji, true);
  }

  async unreact(chatId: string, messageId: string, emoji: string): Promise<void> {
    this.net.doReact(this, this.check(), chatId, messageId, emoji, false);
  }

  async markRead(chatId: string, upToId: string): Promise<void> {
    this.net.doMarkRead(this, this.check(), chatId, upToId);
  }

  async typing(chatId: string, timeoutMs: number): Promise<void> {
    this.net.doTyping(this, this.check(), chatId, timeoutMs);
  }

  /** The account's current pts (Telegram updates.getState): where a client without a stored pts starts. */
  async getState(): Promise<{ pts: number }> {
    return { pts: this.net.updates.state(this.check()) };
  }

  /**
   * What the account's log holds after `pts`, oldest first, at most `limit` updates per call
   * (Telegram updates.getDifference). Pushes keep arriving meanwhile: a client drops those it got
   * here already (pts not above the difference's).
   */
  async getDifference(pts: number, limit = 100): Promise<Difference> {
    return this.net.updates.difference(this.check(), pts, limit);
  }

  /** Newest first, strictly older than `before` (a message id) when given; deleted ones skipped. */
  async history(chatId: string, before: string | undefined, limit: number): Promise<{ messages: FakeMessage[]; hasMore: boolean }> {
    const me = this.check();
    return this.net.history(this.net.chatFor(me, chatId).id, before, limit);
  }

  async chat(chatId: string): Promise<FakeChat> {
    return this.net.chatFor(this.check(), chatId);
  }

  async user(userId: string): Promise<FakeUser> {
    this.check();
    return this.net.user(userId);
  }

  /** Users this account shares a DM with. */
  async contacts(): Promise<FakeUser[]> {
    return this.net.contactsOf(this.check());
  }

  /** A phone number or user id; undefined when nobody has it. */
  async resolve(identifier: string): Promise<FakeUser | undefined> {
    this.check();
    return this.net.resolve(identifier);
  }

  /** The DM chat with `userId`, created when missing. */
  async openDm(userId: string): Promise<string> {
    return this.net.dm(this.check(), userId);
  }

  /** Existing DM chat with `userId`, if any (no side effects). */
  async findDm(userId: string): Promise<string | undefined> {
    return this.net.findDm(this.check(), userId);
  }

  async openMedia(mediaId: string): Promise<Readable> {
    this.check();
    return this.net.openMedia(mediaId);
  }

  /** Logs this session out on the network (revokes the token, ends the connection). */
  async logout(): Promise<void> {
    this.check();
    this.net.revokeSession(this.session.token);
  }
}
