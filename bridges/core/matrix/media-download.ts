import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { CsClient, enc } from './cs-client.js';

/**
 * Opens an mxc:// file as a stream (for Matrix -> network media): the authenticated
 * `GET /_matrix/client/v1/media/download/{serverName}/{mediaId}` first, the legacy
 * `GET /_matrix/media/v3/download/...` for older homeservers. Nothing is buffered whole.
 */
export async function openMxc(cs: CsClient, mxc: string): Promise<{ stream: Readable; contentType?: string; length?: number }> {
  const m = /^mxc:\/\/([^/]+)\/([^/?#]+)$/.exec(mxc);
  if (!m) throw new Error(`not an mxc URI: ${mxc}`);
  const path = `${enc(m[1]!)}/${enc(m[2]!)}`;
  let res: Response;
  try {
    res = await cs.requestRaw('GET', `/_matrix/client/v1/media/download/${path}`);
  } catch {
    res = await cs.requestRaw('GET', `/_matrix/media/v3/download/${path}`);
  }
  const len = res.headers.get('content-length');
  return {
    stream: Readable.fromWeb(res.body as unknown as WebReadableStream),
    contentType: res.headers.get('content-type') ?? undefined,
    length: len ? Number(len) : undefined,
  };
}
