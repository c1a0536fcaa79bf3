import { MatrixError } from '../../matrix/errors.js';

/** A pusher as the client sets it (`POST /pushers/set`) and reads it back (`GET /pushers`). */
export interface PusherFields {
  pushkey: string;
  kind: 'http' | 'email';
  app_id: string;
  app_display_name: string;
  device_display_name: string;
  profile_tag?: string;
  lang: string;
  data: Record<string, unknown>;
}

export type PusherRequest = { delete: true; app_id: string; pushkey: string } | { delete: false; pusher: PusherFields; append: boolean };

/** Spec limits ("Max length, 512 bytes" / "64 chars"); Synapse enforces the same. */
const MAX_PUSHKEY_BYTES = 512;
const MAX_APP_ID_CHARS = 64;
/** The only path a Push Gateway serves (spec: Push Gateway API). */
const NOTIFY_PATH = '/_matrix/push/v1/notify';

/**
 * Checks a `POST /pushers/set` body the way Synapse does: M_MISSING_PARAM for a missing required
 * field, M_INVALID_PARAM for a bad value (unknown kind, over-long pushkey/app_id, an http pusher
 * whose data.url is not an http(s) URL ending in /_matrix/push/v1/notify).
 */
export function parsePusherRequest(body: unknown): PusherRequest {
  if (!isObject(body)) throw MatrixError.badJson('Expected a JSON object');
  const appId = requiredString(body, 'app_id');
  const pushkey = requiredString(body, 'pushkey');
  if (!('kind' in body)) throw MatrixError.missingParam('Missing parameter: kind');
  if ([...appId].length > MAX_APP_ID_CHARS) throw MatrixError.invalidParam(`app_id is longer than ${MAX_APP_ID_CHARS} characters`);
  if (Buffer.byteLength(pushkey) > MAX_PUSHKEY_BYTES) throw MatrixError.invalidParam(`pushkey is longer than ${MAX_PUSHKEY_BYTES} bytes`);
  if (body.kind === null) return { delete: true, app_id: appId, pushkey };
  if (body.kind !== 'http' && body.kind !== 'email') throw MatrixError.invalidParam('kind must be "http", "email" or null');

  const data = body.data;
  if (data === undefined) throw MatrixError.missingParam('Missing parameter: data');
  if (!isObject(data)) throw MatrixError.invalidParam('data must be an object');
  if (body.kind === 'http') checkGatewayUrl(data.url);
  if (data.format !== undefined && data.format !== 'event_id_only') throw MatrixError.invalidParam('data.format must be "event_id_only"');
  const profileTag = body.profile_tag;
  if (profileTag !== undefined && typeof profileTag !== 'string') throw MatrixError.invalidParam('profile_tag must be a string');
  const append = body.append ?? false;
  if (typeof append !== 'boolean') throw MatrixError.invalidParam('append must be a boolean');
  return {
    delete: false,
    append,
    pusher: {
      pushkey,
      kind: body.kind,
      app_id: appId,
      app_display_name: requiredString(body, 'app_display_name'),
      device_display_name: requiredString(body, 'device_display_name'),
      ...(profileTag !== undefined ? { profile_tag: profileTag } : {}),
      lang: requiredString(body, 'lang'),
      data,
    },
  };
}

function checkGatewayUrl(url: unknown): void {
  if (url === undefined) throw MatrixError.invalidParam("'url' required in data for HTTP pushers");
  if (typeof url !== 'string') throw MatrixError.invalidParam("'url' must be a string");
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw MatrixError.invalidParam("'url' must be a valid URL");
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw MatrixError.invalidParam("'url' must have a protocol of http or https");
  if (parsed.pathname !== NOTIFY_PATH) throw MatrixError.invalidParam(`'url' must have a path of '${NOTIFY_PATH}'`);
}

function requiredString(body: Record<string, unknown>, key: string): string {
  const v = body[key];
  if (v === undefined || v === null) throw MatrixError.missingParam(`Missing parameter: ${key}`);
  if (typeof v !== 'string') throw MatrixError.invalidParam(`${key} must be a string`);
  return v;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
