import type { Platform } from '../../../homeserver/platform.js';
import { call, enc, type TestUser } from '../../helpers/platform.js';

/** Small senders for the relation tests: every event goes through the real client API. */
export function relationClient(p: () => Platform) {
  let txn = 0;
  const R = (roomId: string, rest = '') => `/_matrix/client/v3/rooms/${enc(roomId)}${rest}`;
  const V1 = (roomId: string, rest = '') => `/_matrix/client/v1/rooms/${enc(roomId)}${rest}`;
  const sendEvent = async (u: TestUser, roomId: string, type: string, content: Record<string, unknown>): Promise<string> => {
    const res = await call(p(), u, 'PUT', R(roomId, `/send/${enc(type)}/r${++txn}`), content);
    if (res.status !== 200) throw new Error(`send ${type}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.event_id;
  };
  return {
    R,
    V1,
    sendEvent,
    message: (u: TestUser, roomId: string, body: string) => sendEvent(u, roomId, 'm.room.message', { msgtype: 'm.text', body }),
    threadReply: (u: TestUser, roomId: string, root: string, body: string) =>
      sendEvent(u, roomId, 'm.room.message', {
        msgtype: 'm.text',
        body,
        'm.relates_to': { rel_type: 'm.thread', event_id: root, is_falling_back: true, 'm.in_reply_to': { event_id: root } },
      }),
    edit: (u: TestUser, roomId: string, original: string, body: string) =>
      sendEvent(u, roomId, 'm.room.message', {
        msgtype: 'm.text',
        body: `* ${body}`,
        'm.new_content': { msgtype: 'm.text', body },
        'm.relates_to': { rel_type: 'm.replace', event_id: original },
      }),
    react: (u: TestUser, roomId: string, target: string, key: string) =>
      sendEvent(u, roomId, 'm.reaction', { 'm.relates_to': { rel_type: 'm.annotation', event_id: target, key } }),
    redact: async (u: TestUser, roomId: string, eventId: string) => {
      const res = await call(p(), u, 'PUT', R(roomId, `/redact/${enc(eventId)}/x${++txn}`), {});
      if (res.status !== 200) throw new Error(`redact: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body.event_id as string;
    },
    createRoom: async (u: TestUser, body: Record<string, unknown> = {}) => {
      const res = await call(p(), u, 'POST', '/_matrix/client/v3/createRoom', body);
      if (res.status !== 200) throw new Error(`createRoom: ${res.status}`);
      return res.body.room_id as string;
    },
    join: async (u: TestUser, roomId: string) => {
      const res = await call(p(), u, 'POST', `/_matrix/client/v3/join/${enc(roomId)}`, {});
      if (res.status !== 200) throw new Error(`join: ${res.status} ${JSON.stringify(res.body)}`);
    },
  };
}
