/**
 * The fakenet connector's id codec (cf. bridges/telegram/ids.ts). The bridge stores these strings,
 * so keep parsing every format ever written. A login is its account's user id (one login per
 * remote account); chats carry their kind in the id (`d<n>` DM, `g<n>` group); a message id is its
 * sequence number within the chat.
 */
import {
  loginId,
  remoteChatId,
  remoteMessageId,
  remoteUserId,
  type LoginId,
  type RemoteChatId,
  type RemoteMessageId,
  type RemoteUserId,
} from '../../../bridges/core/network/ids.js';

const USER = /^u[0-9]+$/;
const CHAT = /^[dg][0-9]+$/;
const MESSAGE = /^[1-9][0-9]*$/;

function check(re: RegExp, what: string, s: string): string {
  if (!re.test(s)) throw new Error(`not a fakenet ${what} id: ${JSON.stringify(s)}`);
  return s;
}

export const makeLoginId = (userId: string): LoginId => loginId(check(USER, 'user', userId));
export const parseLoginId = (id: LoginId): string => check(USER, 'login', id);

export const makeUserId = (userId: string): RemoteUserId => remoteUserId(check(USER, 'user', userId));
export const parseUserId = (id: RemoteUserId | string): string => check(USER, 'user', id);

export const makeChatId = (chatId: string): RemoteChatId => remoteChatId(check(CHAT, 'chat', chatId));
export const parseChatId = (id: RemoteChatId | string): { chatId: string; kind: 'dm' | 'group' } => ({
  chatId: check(CHAT, 'chat', id),
  kind: id.startsWith('d') ? 'dm' : 'group',
});

export const makeMessageId = (messageId: string): RemoteMessageId => remoteMessageId(check(MESSAGE, 'message', messageId));
export const parseMessageId = (id: RemoteMessageId | string): string => check(MESSAGE, 'message', id);
