import { fileURLToPath } from 'node:url';
import { createAjv, formatAjvErrors, toAjvSchema } from '../../helpers/openapi/schema.js';
import { SyncDereferencer } from '../../helpers/openapi/sync-deref.js';

const FILE = fileURLToPath(new URL('../../matrix-spec/api/push-gateway/push_notifier.yaml', import.meta.url));

/**
 * Checks a body the homeserver POSTed to a gateway against the request schema of the spec's
 * `POST /_matrix/push/v1/notify` (the spec validator helper checks responses only).
 */
export function notifyRequestValidator(): (body: unknown) => void {
  const doc = new SyncDereferencer().dereference(FILE) as any;
  const schema = doc.paths['/notify'].post.requestBody.content['application/json'].schema;
  const validate = createAjv(() => {}).compile(toAjvSchema(schema) as object);
  return (body) => {
    if (!validate(body)) throw new Error(`notify body does not match the spec:\n${formatAjvErrors(validate.errors ?? []).join('\n')}`);
  };
}
