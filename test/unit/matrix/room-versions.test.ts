import { describe, expect, it } from 'vitest';
import { MatrixError } from '../../../homeserver/matrix/errors.js';
import { redactsOf, withClientRedacts } from '../../../homeserver/matrix/pdu.js';
import {
  DEFAULT_ROOM_VERSION,
  SUPPORTED_ROOM_VERSIONS,
  getRoomVersionRules,
  isSupportedRoomVersion,
} from '../../../homeserver/matrix/room-versions.js';

describe('room versions', () => {
  it('supports 10 and 11 and defaults to 11', () => {
    expect(SUPPORTED_ROOM_VERSIONS).toEqual(['10', '11']);
    expect(DEFAULT_ROOM_VERSION).toBe('11');
    expect(isSupportedRoomVersion('10')).toBe(true);
    expect(isSupportedRoomVersion('9')).toBe(false);
    expect(isSupportedRoomVersion(11)).toBe(false);
  });

  it('describes the v10/v11 differences as flags', () => {
    expect(getRoomVersionRules('10')).toMatchObject({
      redactionRules: 'v10',
      createContentHasCreator: true,
      redactsInContent: false,
      redactionKeepsPowerLevelsInvite: false,
    });
    expect(getRoomVersionRules('11')).toMatchObject({
      redactionRules: 'v11',
      createContentHasCreator: false,
      redactsInContent: true,
      redactionKeepsPowerLevelsInvite: true,
    });
  });

  it('throws M_UNSUPPORTED_ROOM_VERSION for anything else', () => {
    let error: unknown;
    try {
      getRoomVersionRules('12');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(MatrixError);
    expect((error as MatrixError).errcode).toBe('M_UNSUPPORTED_ROOM_VERSION');
  });
});

describe('redacts of m.room.redaction', () => {
  it('is read from the top level in v10 and from content in v11', () => {
    const both = { type: 'm.room.redaction', redacts: '$top', content: { redacts: '$content' } };
    expect(redactsOf(both, '10')).toBe('$top');
    expect(redactsOf(both, '11')).toBe('$content');
    expect(redactsOf({ type: 'm.room.message', redacts: '$x', content: {} }, '10')).toBeUndefined();
  });

  it('is copied to both places for clients', () => {
    expect(withClientRedacts({ type: 'm.room.redaction', content: { redacts: '$e', reason: 'r' } }, '11')).toEqual({
      type: 'm.room.redaction',
      redacts: '$e',
      content: { redacts: '$e', reason: 'r' },
    });
    expect(withClientRedacts({ type: 'm.room.redaction', redacts: '$e', content: {} }, '10')).toEqual({
      type: 'm.room.redaction',
      redacts: '$e',
      content: { redacts: '$e' },
    });
    const msg = { type: 'm.room.message', content: {} };
    expect(withClientRedacts(msg, '11')).toBe(msg);
  });
});
