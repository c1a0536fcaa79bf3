import type { Readable } from 'node:stream';
import { CsClient, MatrixHttpError, enc } from './cs-client.js';

/**
 * One Matrix user the bridge acts as (the bot or a ghost): the Client-Server calls the portal
 * engine needs, each a thin wrapper over its spec endpoint. The bot is the appservice's sender and
 * needs no `user_id`; ghosts masquerade.
 */
export class Intent {
  constructor(
    private cs: CsClient,
    readonly userId: string,
    private isBot: boolean,
  ) {}

  private get as() {
    return this.isBot ? undefined : this.userId;
  }

  /** `POST /_matrix/client/v3/register` with m.login.application_service; an existing user is fine. */
  async register(): Promise<void> {
    const localpart = this.userId.slice(1, this.userId.indexOf(':'));
    try {
      await this.cs.request('POST', '/_matrix/client/v3/register', {
        body: { type: 'm.login.application_service', username: localpart, inhibit_login: true },
      });
    } catch (err) {
      if (err instanceof MatrixHttpError && err.errcode === 'M_USER_IN_USE') return;
      throw err;
    }
  }

  /** `PUT /_matrix/client/v3/profile/{userId}/displayname` */
  async setDisplayName(name: string): Promise<void> {
    await this.cs.request('PUT', `/_matrix/client/v3/profile/${enc(this.userId)}/displayname`, {
      asUser: this.as,
      body: { displayname: name },
    });
  }

  /** `PUT /_matrix/client/v3/profile/{userId}/avatar_url` */
  async setAvatarUrl(mxc: string): Promise<void> {
    await this.cs.request('PUT', `/_matrix/client/v3/profile/${enc(this.userId)}/avatar_url`, {
      asUser: this.as,
      body: { avatar_url: mxc },
    });
  }

  /** `POST /_matrix/client/v3/createRoom` */
  async createRoom(body: Record<string, unknown>): Promise<string> {
    const r = await this.cs.request<{ room_id: string }>('POST', '/_matrix/client/v3/createRoom', { asUser: this.as, body });
    return r.room_id;
  }

  /** `POST /_matrix/client/v3/rooms/{roomId}/invite` — an already joined or invited user is not an error. */
  async invite(roomId: string, userId: string): Promise<void> {
    try {
      await this.cs.request('POST', `/_matrix/client/v3/rooms/${enc(roomId)}/invite`, { asUser: this.as, body: { user_id: userId } });
    } catch (err) {
      if (err instanceof MatrixHttpError && err.status === 403 && /already/i.test(err.message)) return;
      throw err;
    }
  }

  /** `POST /_matrix/client/v3/join/{roomIdOrAlias}` */
  async join(roomId: string): Promise<void> {
    await this.cs.request('POST', `/_matrix/client/v3/join/${enc(roomId)}`, { asUser: this.as, body: {} });
  }

  /** `POST /_matrix/client/v3/rooms/{roomId}/leave` */
  async leave(roomId: string): Promise<void> {
    await this.cs.request('POST', `/_matrix/client/v3/rooms/${enc(roomId)}/leave`, { asUser: this.as, body: {} });
  }

  /** `POST /_matrix/client/v3/rooms/{roomId}/kick` */
  async kick(roomId: string, userId: string, reason?: string): Promise<void> {
    await this.cs.request('POST', `/_matrix/client/v3/rooms/${enc(roomId)}/kick`, { asUser: this.as, body: { user_id: userId, reason } });
  }

  /** `POST /_matrix/client/v3/rooms/{roomId}/ban` */
  async ban(roomId: string, userId: string, reason?: string): Promise<void> {
    await this.cs.request('POST', `/_matrix/client/v3/rooms/${enc(roomId)}/ban`, { asUser: this.as, body: { user_id: userId, reason } });
  }

  /** `PUT /_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}` with the `ts` override of appservices. */
  async sendEvent(roomId: string, type: string, content: Record<string, unknown>, txnId: string, ts?: number): Promise<string> {
    const r = await this.cs.request<{ event_id: string }>(
      'PUT',
      `/_matrix/client/v3/rooms/${enc(roomId)}/send/${enc(type)}/${enc(txnId)}`,
      { asUser: this.as, body: content, query: { ts } },
    );
    return r.event_id;
  }

  /** `PUT /_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey}` */
  async sendState(roomId: string, type: string, stateKey: string, content: Record<string, unknown>, ts?: number): Promise<string> {
    const r = await this.cs.request<{ event_id: string }>(
      'PUT',
      `/_matrix/client/v3/rooms/${enc(roomId)}/state/${enc(type)}/${enc(stateKey)}`,
      { asUser: this.as, body: content, query: { ts } },
    );
    return r.event_id;
  }

  /** `PUT /_matrix/client/v3/rooms/{roomId}/redact/{eventId}/{txnId}` */
  async redact(roomId: string, eventId: string, txnId: string, reason?: string): Promise<string> {
    const r = await this.cs.request<{ event_id: string }>(
      'PUT',
      `/_matrix/client/v3/rooms/${enc(roomId)}/redact/${enc(eventId)}/${enc(txnId)}`,
      { asUser: this.as, body: reason ? { reason } : {} },
    );
    return r.event_id;
  }

  /** `POST /_matrix/client/v3/rooms/{roomId}/receipt/m.read/{eventId}` */
  async markRead(roomId: string, eventId: string): Promise<void> {
    await this.cs.request('POST', `/_matrix/client/v3/rooms/${enc(roomId)}/receipt/m.read/${enc(eventId)}`, { asUser: this.as, body: {} });
  }

  /** `PUT /_matrix/client/v3/rooms/{roomId}/typing/{userId}` */
  async setTyping(roomId: string, typing: boolean, timeoutMs: number): Promise<void> {
    await this.cs.request('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/typing/${enc(this.userId)}`, {
      asUser: this.as,
      body: typing ? { typing, timeout: timeoutMs } : { typing },
    });
  }

  /** `PUT /_matrix/client/v3/user/{userId}/account_data/{type}` */
  async setAccountData(type: string, content: Record<string, unknown>): Promise<void> {
    await this.cs.request('PUT', `/_matrix/client/v3/user/${enc(this.userId)}/account_data/${enc(type)}`, {
      asUser: this.as,
      body: content,
    });
  }

  /** `GET /_matrix/client/v3/user/{userId}/account_data/{type}` — undefined when unset. */
  async getAccountData(type: string): Promise<Record<string, unknown> | undefined> {
    try {
      return await this.cs.request('GET', `/_matrix/client/v3/user/${enc(this.userId)}/account_data/${enc(type)}`, { asUser: this.as });
    } catch (err) {
      if (err instanceof MatrixHttpError && err.status === 404) return undefined;
      throw err;
    }
  }

  /** `GET /_matrix/client/v3/rooms/{roomId}/joined_members` — user ids. */
  async joinedMembers(roomId: string): Promise<string[]> {
    const r = await this.cs.request<{ joined: Record<string, unknown> }>('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/joined_members`, {
      asUser: this.as,
    });
    return Object.keys(r.joined ?? {});
  }

  /**
   * `POST /_matrix/media/v3/upload` with the stream as the body: bytes flow from the network to the
   * homeserver without being held whole in memory. Returns the mxc:// URI.
   */
  async uploadStream(body: Readable, contentType: string, fileName?: string, length?: number): Promise<string> {
    const r = await this.cs.request<{ content_uri: string }>('POST', '/_matrix/media/v3/upload', {
      asUser: this.as,
      query: { filename: fileName },
      stream: { body, contentType, length },
    });
    return r.content_uri;
  }

  /** `POST /_matrix/client/unstable/com.beeper.backfill/rooms/{roomId}/batch_send` (history import). */
  async batchSend(roomId: string, body: Record<string, unknown>): Promise<string[]> {
    const r = await this.cs.request<{ event_ids: string[] }>(
      'POST',
      `/_matrix/client/unstable/com.beeper.backfill/rooms/${enc(roomId)}/batch_send`,
      { asUser: this.as, body },
    );
    return r.event_ids;
  }
}
