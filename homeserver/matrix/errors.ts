/**
 * The one error type of the homeserver. Every failure a client can cause is a MatrixError whose
 * HTTP status comes from the errcode table below, so no call site picks a status on its own.
 */
export type ErrCode =
  | 'M_FORBIDDEN'
  | 'M_UNKNOWN_TOKEN'
  | 'M_MISSING_TOKEN'
  | 'M_BAD_JSON'
  | 'M_NOT_JSON'
  | 'M_NOT_FOUND'
  | 'M_LIMIT_EXCEEDED'
  | 'M_UNRECOGNIZED'
  | 'M_UNKNOWN'
  | 'M_INVALID_PARAM'
  | 'M_MISSING_PARAM'
  | 'M_TOO_LARGE'
  | 'M_EXCLUSIVE'
  | 'M_USER_IN_USE'
  | 'M_INVALID_USERNAME'
  | 'M_ROOM_IN_USE'
  | 'M_BAD_STATE'
  | 'M_GUEST_ACCESS_FORBIDDEN'
  | 'M_UNSUPPORTED_ROOM_VERSION'
  | 'M_INCOMPATIBLE_ROOM_VERSION'
  | 'M_USER_DEACTIVATED'
  | 'M_WEAK_PASSWORD'
  | 'M_INVALID_ROOM_STATE'
  | 'M_UNAUTHORIZED'
  | 'M_UNKNOWN_POS'
  | 'M_NOT_YET_UPLOADED'
  | 'M_CANNOT_OVERWRITE_MEDIA'
  | 'M_INVALID_SIGNATURE'
  | 'M_WRONG_ROOM_KEYS_VERSION'
  | 'M_THREEPID_MEDIUM_NOT_SUPPORTED'
  | 'M_THREEPID_AUTH_FAILED'
  | 'M_SERVER_NOT_TRUSTED';

// A Record over the whole union: adding an ErrCode without a status is a compile error.
const STATUS: Record<ErrCode, number> = {
  M_FORBIDDEN: 403,
  M_UNKNOWN_TOKEN: 401,
  M_MISSING_TOKEN: 401,
  M_BAD_JSON: 400,
  M_NOT_JSON: 400,
  M_NOT_FOUND: 404,
  M_LIMIT_EXCEEDED: 429,
  M_UNRECOGNIZED: 404,
  M_UNKNOWN: 500,
  M_INVALID_PARAM: 400,
  M_MISSING_PARAM: 400,
  M_TOO_LARGE: 413,
  M_EXCLUSIVE: 400,
  M_USER_IN_USE: 400,
  M_INVALID_USERNAME: 400,
  M_ROOM_IN_USE: 400,
  M_BAD_STATE: 400,
  M_GUEST_ACCESS_FORBIDDEN: 403,
  M_UNSUPPORTED_ROOM_VERSION: 400,
  M_INCOMPATIBLE_ROOM_VERSION: 400,
  M_USER_DEACTIVATED: 403,
  M_WEAK_PASSWORD: 400,
  M_INVALID_ROOM_STATE: 400,
  M_UNAUTHORIZED: 401,
  M_UNKNOWN_POS: 400,
  M_NOT_YET_UPLOADED: 504,
  M_CANNOT_OVERWRITE_MEDIA: 409,
  M_INVALID_SIGNATURE: 400,
  M_WRONG_ROOM_KEYS_VERSION: 403,
  M_THREEPID_MEDIUM_NOT_SUPPORTED: 400,
  M_THREEPID_AUTH_FAILED: 400,
  M_SERVER_NOT_TRUSTED: 400,
};

export class MatrixError extends Error {
  readonly status: number;
  constructor(
    readonly errcode: ErrCode,
    message: string,
    status?: number,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.status = status ?? STATUS[errcode];
  }

  toJSON(): Record<string, unknown> {
    return { errcode: this.errcode, error: this.message, ...this.extra };
  }

  static forbidden = (msg: string) => new MatrixError('M_FORBIDDEN', msg);
  static notFound = (msg: string) => new MatrixError('M_NOT_FOUND', msg);
  static invalidParam = (msg: string) => new MatrixError('M_INVALID_PARAM', msg);
  static missingParam = (msg: string) => new MatrixError('M_MISSING_PARAM', msg);
  static badJson = (msg: string) => new MatrixError('M_BAD_JSON', msg);
  static unrecognized = (msg = 'Unrecognized request', status = 404) => new MatrixError('M_UNRECOGNIZED', msg, status);
  static limitExceeded = (retryAfterMs: number) =>
    new MatrixError('M_LIMIT_EXCEEDED', 'Too many requests', 429, { retry_after_ms: retryAfterMs });
  static unknownToken = (softLogout = false) =>
    new MatrixError('M_UNKNOWN_TOKEN', 'Unknown access token', 401, { soft_logout: softLogout });
}

/** The body of a 401 User-Interactive Authentication challenge. Not an errcode by itself. */
export interface UiaResponseBody {
  flows: { stages: string[] }[];
  params: Record<string, unknown>;
  session: string;
  completed?: string[];
  errcode?: ErrCode;
  error?: string;
}

export class UiaRequired extends Error {
  constructor(readonly body: UiaResponseBody) {
    super('User-interactive authentication required');
  }
}
