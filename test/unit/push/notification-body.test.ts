import { describe, expect, it } from 'vitest';
import type { Pdu } from '../../../homeserver/matrix/pdu.js';
import { badgeBody, notificationBody } from '../../../homeserver/services/push/notification-body.js';
import type { StoredPusher } from '../../../homeserver/services/push/pushers.js';
import type { PushEvaluation } from '../../../homeserver/services/user-data/index.js';

const pusher: StoredPusher = {
  user_id: '@alice:test',
  app_id: 'io.element.elementx',
  pushkey: 'key',
  kind: 'http',
  app_display_name: 'Element X',
  device_display_name: 'Phone',
  lang: 'en',
  data: { url: 'https://push.example.org/_matrix/push/v1/notify', custom: { nested: 1 } },
  device_id: 'DEV',
  pushkey_ts: 1_700_000_123_456,
  last_stream_ordering: 0,
  failing_since: null,
};

const pdu = (type: string, content: Record<string, unknown> = {}, stateKey?: string) =>
  ({
    type,
    room_id: '!r:test',
    sender: '@bob:test',
    content,
    ...(stateKey !== undefined ? { state_key: stateKey } : {}),
  }) as unknown as Pdu;

const verdict = (tweaks: Record<string, unknown> = {}, highlight = false): PushEvaluation => ({
  notify: true,
  highlight,
  actions: ['notify'],
  tweaks,
});

describe('notificationBody', () => {
  it.each([
    ['a plain message', pdu('m.room.message'), verdict(), 'low'],
    ['a message that makes a sound', pdu('m.room.message'), verdict({ sound: 'default' }), 'high'],
    ['a highlight', pdu('m.room.message'), verdict({ highlight: true }, true), 'high'],
    ['an encrypted event (unknown content may mention the user)', pdu('m.room.encrypted'), verdict(), 'high'],
  ])('%s is %s priority', (_what, event, evaluation, prio) => {
    expect(notificationBody(pusher, event, '$e', evaluation, { unread: 1 }).notification.prio).toBe(prio);
  });

  it('forwards data without url, pushkey_ts in seconds, tweaks only when set', () => {
    const { notification } = notificationBody(pusher, pdu('m.room.message', { body: 'hi' }), '$e', verdict(), { unread: 3 });
    expect(notification.devices).toEqual([
      { app_id: 'io.element.elementx', pushkey: 'key', pushkey_ts: 1_700_000_123, data: { custom: { nested: 1 } } },
    ]);
    expect(notification.counts).toEqual({ unread: 3 });
    expect(pusher.data.url).toBeDefined(); // the pusher itself is untouched
  });

  it('says whether a membership event targets the user', () => {
    const { notification } = notificationBody(pusher, pdu('m.room.member', { membership: 'invite' }, '@alice:test'), '$e', verdict(), {
      unread: 0,
    });
    expect(notification).toMatchObject({ membership: 'invite', user_is_target: true });
  });

  it('event_id_only leaves the event out', () => {
    const p = { ...pusher, data: { ...pusher.data, format: 'event_id_only' } };
    const { notification } = notificationBody(p, pdu('m.room.message', { body: 'secret' }), '$e', verdict(), { unread: 1, roomName: 'R' });
    expect(notification).toEqual({
      event_id: '$e',
      room_id: '!r:test',
      prio: 'low',
      counts: { unread: 1 },
      devices: [expect.objectContaining({ data: { custom: { nested: 1 }, format: 'event_id_only' } })],
    });
  });

  it('a badge update carries counts and devices only', () => {
    expect(Object.keys(badgeBody(pusher, 2).notification)).toEqual(['counts', 'devices']);
  });
});
