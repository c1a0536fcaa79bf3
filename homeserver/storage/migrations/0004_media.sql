-- The media repository: metadata of local uploads and of their generated thumbnails. The bytes
-- live in a MediaStore (local disk by default) under store_key.
CREATE TABLE hs_media_local (
  media_id      TEXT PRIMARY KEY,             -- [A-Za-z0-9], the path part of mxc://server_name/media_id
  user_id       TEXT NOT NULL,                -- the uploader (or the creator of a pending id)
  content_type  TEXT,                         -- as uploaded; NULL while pending
  upload_name   TEXT,                         -- ?filename= of the upload, if any
  size_bytes    BIGINT,                       -- NULL while pending
  sha256        BYTEA,                        -- NULL while pending
  store_key     TEXT,                         -- key in the MediaStore; NULL while pending
  created_ts    BIGINT NOT NULL,
  uploaded_ts   BIGINT,                       -- NULL: created by POST /_matrix/media/v1/create, content not yet uploaded
  expires_ts    BIGINT                        -- pending ids only: unusable after this
);
CREATE INDEX hs_media_local_pending ON hs_media_local (user_id) WHERE uploaded_ts IS NULL;

CREATE TABLE hs_media_thumbnails (
  media_id      TEXT NOT NULL REFERENCES hs_media_local(media_id) ON DELETE CASCADE,
  width         INTEGER NOT NULL,             -- the size that was asked for (after snapping to the configured sizes)
  height        INTEGER NOT NULL,
  method        TEXT NOT NULL,                -- 'crop' | 'scale'
  animated      BOOLEAN NOT NULL,
  content_type  TEXT NOT NULL,                -- image/png, image/jpeg or image/webp
  size_bytes    BIGINT NOT NULL,
  store_key     TEXT NOT NULL,
  created_ts    BIGINT NOT NULL,
  PRIMARY KEY (media_id, width, height, method, animated)
);
