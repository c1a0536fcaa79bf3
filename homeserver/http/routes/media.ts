import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteShorthandOptions } from 'fastify';
import { Type } from '@sinclair/typebox';
import { MatrixError } from '../../matrix/errors.js';
import { normaliseContentType, RangeNotSatisfiable } from '../../services/media/media-repository.js';
import { requireAuth } from '../auth.js';
import { contentDisposition, isInlineContentType, setMediaHeaders } from '../media-headers.js';

type Handler = (req: FastifyRequest<any>, reply: FastifyReply) => Promise<unknown>;

/** The deprecated unauthenticated prefixes: v3, and r0 for Hydrogen and older bridges. */
const LEGACY = ['/_matrix/media/v3', '/_matrix/media/r0'];
const AUTHED = '/_matrix/client/v1/media';

const MediaParams = Type.Object({ serverName: Type.String(), mediaId: Type.String() });
const MediaFileParams = Type.Object({ serverName: Type.String(), mediaId: Type.String(), fileName: Type.String() });
const TimeoutMs = Type.Optional(Type.Integer({ minimum: 0 }));
const DownloadQuery = Type.Object({
  timeout_ms: TimeoutMs,
  allow_remote: Type.Optional(Type.Boolean()),
  allow_redirect: Type.Optional(Type.Boolean()),
});
const ThumbnailQuery = Type.Object({
  width: Type.Integer({ minimum: 1 }),
  height: Type.Integer({ minimum: 1 }),
  method: Type.Optional(Type.Union([Type.Literal('crop'), Type.Literal('scale')])),
  animated: Type.Optional(Type.Boolean()),
  timeout_ms: TimeoutMs,
  allow_remote: Type.Optional(Type.Boolean()),
  allow_redirect: Type.Optional(Type.Boolean()),
});
// `url` stays a plain string here: the service decides what a valid URL is (400 M_INVALID_PARAM).
const PreviewQuery = Type.Object({ url: Type.String(), ts: Type.Optional(Type.Integer({ minimum: 0 })) });
const UploadQuery = Type.Object({ filename: Type.Optional(Type.String({ maxLength: 1000 })) });

/**
 * The content repository (Client-Server API "Content repository"): authenticated
 * `/_matrix/client/v1/media/*`, the legacy `/_matrix/media/v3/*` (and r0) and the async upload pair
 * `POST /_matrix/media/v1/create` + `PUT /_matrix/media/v3/upload/{serverName}/{mediaId}`.
 *
 * `preview_url` answers 404 M_UNRECOGNIZED unless `media.url_preview.enabled` (clients then show no
 * previews). Remote media is not served (no federation: 404).
 */
export async function mediaRoutes(app: FastifyInstance): Promise<void> {
  const { media } = app.services;
  const auth = requireAuth(app.services);
  const route = (
    scope: FastifyInstance,
    method: 'GET' | 'POST' | 'PUT',
    url: string,
    opts: { auth: boolean; schema?: RouteShorthandOptions['schema'] },
    handler: Handler,
  ) => scope.route({ method, url, schema: opts.schema, preHandler: opts.auth ? auth : undefined, handler });

  // --- uploads: a scope of their own whose parser hands the raw request stream to the handler -----
  await app.register(async (raw) => {
    raw.removeAllContentTypeParsers();
    raw.addContentTypeParser('*', (_req, payload, done) => done(null, payload));

    const bodyOf = (req: FastifyRequest): Readable => {
      const declared = Number(req.headers['content-length']);
      if (Number.isFinite(declared) && declared > media.config.max_upload_bytes) {
        throw new MatrixError('M_TOO_LARGE', `Upload is larger than the limit of ${media.config.max_upload_bytes} bytes`);
      }
      return req.body instanceof Readable ? req.body : Readable.from([]);
    };
    // Refusing a body part-way leaves the rest unread: close the connection rather than drain it.
    const closeOnTooLarge = async <T>(reply: FastifyReply, fn: () => Promise<T>): Promise<T> => {
      try {
        return await fn();
      } catch (err) {
        if (err instanceof MatrixError && err.errcode === 'M_TOO_LARGE') reply.header('connection', 'close');
        throw err;
      }
    };

    for (const prefix of LEGACY) {
      /** `POST /_matrix/media/v3/upload` */
      route(raw, 'POST', `${prefix}/upload`, { auth: true, schema: { querystring: UploadQuery } }, (req, reply) =>
        closeOnTooLarge(reply, async () => {
          const { filename } = req.query as { filename?: string };
          const contentType = normaliseContentType(req.headers['content-type']);
          const mediaId = await media.upload(req.requester, bodyOf(req), contentType, filename || undefined);
          return { content_uri: media.mxcUri(mediaId) };
        }),
      );

      /** `PUT /_matrix/media/v3/upload/{serverName}/{mediaId}` — content for an id from POST /create. */
      route(
        raw,
        'PUT',
        `${prefix}/upload/:serverName/:mediaId`,
        { auth: true, schema: { params: MediaParams, querystring: UploadQuery } },
        (req, reply) =>
          closeOnTooLarge(reply, async () => {
            const { serverName, mediaId } = req.params as { serverName: string; mediaId: string };
            const { filename } = req.query as { filename?: string };
            const contentType = normaliseContentType(req.headers['content-type']);
            await media.uploadTo(req.requester, serverName, mediaId, bodyOf(req), contentType, filename || undefined);
            return {};
          }),
      );
    }
  });

  // --- everything else (JSON requests, or none) ----------------------------------------------------

  /** `POST /_matrix/media/v1/create` (and the v3 spelling some clients use). */
  for (const url of ['/_matrix/media/v1/create', '/_matrix/media/v3/create']) {
    route(app, 'POST', url, { auth: true }, async (req) => {
      const { mediaId, expiresAt } = await media.create(req.requester);
      return { content_uri: media.mxcUri(mediaId), unused_expires_at: expiresAt };
    });
  }

  const config = async () => ({ 'm.upload.size': media.config.max_upload_bytes });

  const download = (authenticated: boolean): Handler => {
    return async (req, reply) => {
      const { serverName, mediaId, fileName } = req.params as { serverName: string; mediaId: string; fileName?: string };
      const { timeout_ms } = req.query as { timeout_ms?: number };
      // Media never changes, so byte ranges are always safe to serve (video seeking, resumed downloads).
      reply.header('accept-ranges', 'bytes');
      let content;
      try {
        content = await media.download(serverName, mediaId, timeout_ms, req.headers.range);
      } catch (err) {
        if (!(err instanceof RangeNotSatisfiable)) throw err;
        return reply
          .code(416)
          .header('content-range', `bytes */${err.size}`)
          .send({ errcode: 'M_UNKNOWN', error: 'Requested range not satisfiable' });
      }
      const { info, stream, range } = content;
      const name = fileName ?? info.uploadName;
      setMediaHeaders(reply, {
        contentType: info.contentType,
        size: range ? range.end - range.start + 1 : info.size,
        disposition: contentDisposition(isInlineContentType(info.contentType) ? 'inline' : 'attachment', name),
        authenticated,
      });
      if (range) reply.code(206).header('content-range', `bytes ${range.start}-${range.end}/${info.size}`);
      return reply.send(stream);
    };
  };

  const thumbnail = (authenticated: boolean): Handler => {
    return async (req, reply) => {
      const { serverName, mediaId } = req.params as { serverName: string; mediaId: string };
      const q = req.query as { width: number; height: number; method?: 'crop' | 'scale'; animated?: boolean; timeout_ms?: number };
      const thumb = await media.thumbnail(serverName, mediaId, {
        width: q.width,
        height: q.height,
        method: q.method ?? 'scale',
        animated: q.animated ?? false,
        timeoutMs: q.timeout_ms,
      });
      const ext = thumb.contentType.split('/')[1];
      setMediaHeaders(reply, {
        contentType: thumb.contentType,
        size: thumb.size,
        disposition: contentDisposition('inline', `thumbnail.${ext}`),
        authenticated,
      });
      return reply.send(thumb.stream);
    };
  };

  /** `GET .../preview_url?url=&ts=` — OpenGraph data of a URL, its image copied into the repository. */
  const previewUrl: Handler = async (req) => {
    const { url, ts } = req.query as { url: string; ts?: number };
    return media.previews.preview(req.requester.userId, url, ts);
  };

  const downloadSchema = { params: MediaParams, querystring: DownloadQuery };
  const downloadNamedSchema = { params: MediaFileParams, querystring: DownloadQuery };
  const thumbnailSchema = { params: MediaParams, querystring: ThumbnailQuery };

  /** `GET /_matrix/client/v1/media/{config,download,thumbnail}` — authenticated media (spec v1.11). */
  route(app, 'GET', `${AUTHED}/config`, { auth: true }, config);
  route(app, 'GET', `${AUTHED}/download/:serverName/:mediaId`, { auth: true, schema: downloadSchema }, download(true));
  route(app, 'GET', `${AUTHED}/download/:serverName/:mediaId/:fileName`, { auth: true, schema: downloadNamedSchema }, download(true));
  route(app, 'GET', `${AUTHED}/thumbnail/:serverName/:mediaId`, { auth: true, schema: thumbnailSchema }, thumbnail(true));
  route(app, 'GET', `${AUTHED}/preview_url`, { auth: true, schema: { querystring: PreviewQuery } }, previewUrl);

  /** The deprecated `/_matrix/media/v3/...` reads: downloads and thumbnails need no token there; config does. */
  for (const prefix of LEGACY) {
    route(app, 'GET', `${prefix}/config`, { auth: true }, config);
    route(app, 'GET', `${prefix}/download/:serverName/:mediaId`, { auth: false, schema: downloadSchema }, download(false));
    route(app, 'GET', `${prefix}/download/:serverName/:mediaId/:fileName`, { auth: false, schema: downloadNamedSchema }, download(false));
    route(app, 'GET', `${prefix}/thumbnail/:serverName/:mediaId`, { auth: false, schema: thumbnailSchema }, thumbnail(false));
    // Unlike downloads, previews always needed a token: they make the server fetch on the caller's behalf.
    route(app, 'GET', `${prefix}/preview_url`, { auth: true, schema: { querystring: PreviewQuery } }, previewUrl);
  }
}
