-- URL previews (GET .../preview_url): the OpenGraph result per URL and time bucket, so that every
-- client in a busy room asking for the same link costs one fetch. `bucket` is the requested ts
-- (or now) rounded down to media.url_preview.cache_ms; rows are dropped lazily once expired.
CREATE TABLE hs_url_previews (
  url_hash    BYTEA NOT NULL,                 -- sha256 of url: URLs can outgrow a btree index entry
  bucket      BIGINT NOT NULL,
  url         TEXT NOT NULL,
  og          TEXT NOT NULL,                  -- the response body (JSON object)
  fetched_ts  BIGINT NOT NULL,
  expires_ts  BIGINT NOT NULL,
  PRIMARY KEY (url_hash, bucket)
);
CREATE INDEX hs_url_previews_expiry ON hs_url_previews (expires_ts);

-- Presence idle timers (issue 3 leftovers, kept in this migration because it is the one number this
-- change owns). last_sync_ts: when a client was last seen syncing (or setting presence), pushed
-- forward by the long-poll timeout so a user inside a long poll counts as present; the sweeper turns
-- users offline once it is older than presence.offline_after_ms.
ALTER TABLE hs_presence ADD COLUMN last_sync_ts BIGINT NOT NULL DEFAULT 0;
-- The sweeper only ever looks at users who are not offline.
CREATE INDEX hs_presence_awake ON hs_presence (last_active_ts) WHERE state <> 'offline';
