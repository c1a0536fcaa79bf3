import type { ChatInfo, ResolvedIdentifier, UserInfo } from './chat-info.js';
import type { RemoteChatId, RemoteMessageId, RemoteReactionId, RemoteUserId } from './ids.js';
import type {
  MatrixEdit,
  MatrixMessage,
  MatrixMessageResponse,
  MatrixReaction,
  MatrixReadReceipt,
  MatrixRedaction,
  MatrixTyping,
} from './matrix-action.js';
import type { RemoteMessage } from './remote-event.js';

/**
 * One live login on the network (bridgev2 NetworkAPI). The session pool owns it: it calls
 * connect() once the login's lease is held and disconnect() before giving the lease up.
 *
 * Contract:
 * - connect() never throws for network trouble: it reports states through
 *   `LoginContext.setState` (TRANSIENT_DISCONNECT makes the pool reconnect with backoff,
 *   BAD_CREDENTIALS / LOGGED_OUT end the session). It resolves once connected or failed.
 * - Remote events go to `LoginContext.emit`, in the network's order per chat.
 * - The handleMatrix* methods run on the portal's serial queue (one at a time per portal) and
 *   reject to report a failure (the outbox retries retryable errors, see NetworkError).
 */
export interface NetworkClient {
  connect(signal: AbortSignal): Promise<void>;
  disconnect(): Promise<void>;
  /** Cached; no I/O. */
  isLoggedIn(): boolean;
  /** Logs out on the network (the session is revoked there), then disconnects. */
  logoutRemote(): Promise<void>;

  getChatInfo(chatId: RemoteChatId): Promise<ChatInfo>;
  getUserInfo(userId: RemoteUserId): Promise<UserInfo>;

  handleMatrixMessage(msg: MatrixMessage): Promise<MatrixMessageResponse>;
  handleMatrixEdit?(msg: MatrixEdit): Promise<void>;
  handleMatrixRedaction?(msg: MatrixRedaction): Promise<void>;
  handleMatrixReaction?(msg: MatrixReaction): Promise<{ reactionId?: RemoteReactionId }>;
  handleMatrixReadReceipt?(msg: MatrixReadReceipt): Promise<void>;
  handleMatrixTyping?(msg: MatrixTyping): Promise<void>;

  /** History for backfill, newest first, strictly older than `before` when given. */
  fetchMessages?(params: { chatId: RemoteChatId; before?: RemoteMessageId; limit: number }): Promise<{
    messages: RemoteMessage[];
    hasMore: boolean;
  }>;

  /** Provisioning API helpers (contacts, resolve_identifier, create_dm). */
  getContacts?(): Promise<ResolvedIdentifier[]>;
  resolveIdentifier?(identifier: string, createChat: boolean): Promise<ResolvedIdentifier | undefined>;
}

/** A failure talking to the network. `retryable` ones are retried by the outbox with backoff. */
export class NetworkError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}
