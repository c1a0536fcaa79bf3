import { MatrixError } from './errors.js';

/**
 * The room versions this server implements. Both share the event format of v4+ (event id = hash),
 * state resolution v2, strict canonical JSON (v6+), knocking (v7+), restricted joins (v8/v9),
 * integer-only power levels and `knock_restricted` (v10). v11 only changes redaction and the
 * shape of m.room.create / m.room.redaction events; the flags below name each difference so the
 * modules that care read a flag instead of comparing version strings.
 */
export const SUPPORTED_ROOM_VERSIONS = ['10', '11'] as const;

export type RoomVersionId = (typeof SUPPORTED_ROOM_VERSIONS)[number];

/**
 * The spec now recommends v12 for new rooms, which this server does not implement; of the versions
 * it does, v11 is the newest and the one the spec recommended before v12.
 */
export const DEFAULT_ROOM_VERSION: RoomVersionId = '11';

export interface RoomVersionRules {
  readonly id: RoomVersionId;
  /** Which redaction algorithm applies (v10 = the v9 algorithm). */
  readonly redactionRules: 'v10' | 'v11';
  /** v10 requires `content.creator` on m.room.create; v11 removed it: the creator is the sender. */
  readonly createContentHasCreator: boolean;
  /** v11 moved m.room.redaction's `redacts` from the top level into `content`. */
  readonly redactsInContent: boolean;

  // Redaction details (see redaction.ts), all v11 changes.
  /** Top-level `origin`, `membership` and `prev_state` survive redaction (true up to v10). */
  readonly redactionKeepsOriginMembershipPrevState: boolean;
  /** m.room.create keeps its whole content (v11) rather than only `creator` (v10). */
  readonly redactionKeepsAllCreateContent: boolean;
  /** m.room.power_levels keeps `invite` (v11). */
  readonly redactionKeepsPowerLevelsInvite: boolean;
  /** m.room.member keeps `third_party_invite.signed` (v11). */
  readonly redactionKeepsThirdPartyInviteSigned: boolean;
  /** m.room.redaction keeps `content.redacts` (v11). */
  readonly redactionKeepsRedactsContent: boolean;

  // Shared by both, stated so callers need not know the history.
  /** Power level values must be JSON integers, not strings of digits (v10+). */
  readonly integerPowerLevels: true;
  readonly knocking: true;
  readonly restrictedJoinRule: true;
  readonly knockRestrictedJoinRule: true;
  /** Event ids are `$` + URL-safe unpadded base64 of the reference hash (v4+). */
  readonly eventIdFormat: 'reference-hash-url-safe';
  readonly stateResolution: 'v2';
  /** Signing key `valid_until_ts` must cover the event's origin_server_ts (v5+). */
  readonly enforceSigningKeyValidity: true;
  /** Events must be valid canonical JSON (integer range, no floats) (v6+). */
  readonly strictCanonicalJson: true;
}

const SHARED = {
  integerPowerLevels: true,
  knocking: true,
  restrictedJoinRule: true,
  knockRestrictedJoinRule: true,
  eventIdFormat: 'reference-hash-url-safe',
  stateResolution: 'v2',
  enforceSigningKeyValidity: true,
  strictCanonicalJson: true,
} as const;

const RULES: Record<RoomVersionId, RoomVersionRules> = {
  '10': {
    ...SHARED,
    id: '10',
    redactionRules: 'v10',
    createContentHasCreator: true,
    redactsInContent: false,
    redactionKeepsOriginMembershipPrevState: true,
    redactionKeepsAllCreateContent: false,
    redactionKeepsPowerLevelsInvite: false,
    redactionKeepsThirdPartyInviteSigned: false,
    redactionKeepsRedactsContent: false,
  },
  '11': {
    ...SHARED,
    id: '11',
    redactionRules: 'v11',
    createContentHasCreator: false,
    redactsInContent: true,
    redactionKeepsOriginMembershipPrevState: false,
    redactionKeepsAllCreateContent: true,
    redactionKeepsPowerLevelsInvite: true,
    redactionKeepsThirdPartyInviteSigned: true,
    redactionKeepsRedactsContent: true,
  },
};

export function isSupportedRoomVersion(v: unknown): v is RoomVersionId {
  return typeof v === 'string' && (SUPPORTED_ROOM_VERSIONS as readonly string[]).includes(v);
}

export function getRoomVersionRules(v: string): RoomVersionRules {
  if (!isSupportedRoomVersion(v)) {
    throw new MatrixError('M_UNSUPPORTED_ROOM_VERSION', `Room version '${String(v)}' is not supported by this server`);
  }
  return RULES[v];
}
