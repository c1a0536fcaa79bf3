-- Per-user data: account data (global and per room, tags included), filters, push rules and
-- presence. Each stream keeps only the latest value per key; every change takes a new position
-- from the table's BIGSERIAL, so sync reads "what changed in (from, to]" with one range scan.
-- Writers of one stream hold its advisory lock (storage/stream-lock.ts) from taking the position until
-- COMMIT, so positions become visible in order and MAX(stream_id) is always a safe sync position.

CREATE TABLE hs_account_data (
  user_id    TEXT NOT NULL,
  room_id    TEXT NOT NULL DEFAULT '',        -- '' = global account data
  type       TEXT NOT NULL,
  content    TEXT NOT NULL,                   -- JSON object, kept as sent
  stream_id  BIGSERIAL NOT NULL,
  PRIMARY KEY (user_id, room_id, type)
);
CREATE INDEX hs_account_data_user_stream ON hs_account_data (user_id, stream_id);
CREATE INDEX hs_account_data_stream ON hs_account_data (stream_id);

-- Uploaded sync filters; ids are opaque decimal strings, an identical filter gets the same id.
CREATE TABLE hs_filters (
  filter_id    BIGSERIAL PRIMARY KEY,
  user_id      TEXT NOT NULL,
  filter_json  TEXT NOT NULL,
  json_hash    TEXT NOT NULL                  -- md5 of filter_json, for de-duplication
);
CREATE INDEX hs_filters_user_hash ON hs_filters (user_id, json_hash);

-- User-defined push rules; priority orders the rules of one kind (lower = more important).
CREATE TABLE hs_push_rules (
  user_id     TEXT NOT NULL,
  kind        TEXT NOT NULL,                  -- override | content | room | sender | underride
  rule_id     TEXT NOT NULL,
  priority    INTEGER NOT NULL,
  conditions  TEXT,                           -- JSON array (override/underride)
  pattern     TEXT,                           -- content rules
  actions     TEXT NOT NULL,                  -- JSON array
  enabled     BOOLEAN NOT NULL DEFAULT true,
  PRIMARY KEY (user_id, kind, rule_id)
);

-- A user's changes to server-default rules (NULL: the default applies).
CREATE TABLE hs_push_rule_defaults (
  user_id  TEXT NOT NULL,
  rule_id  TEXT NOT NULL,
  enabled  BOOLEAN,
  actions  TEXT,
  PRIMARY KEY (user_id, rule_id)
);

CREATE TABLE hs_presence (
  user_id           TEXT PRIMARY KEY,
  state             TEXT NOT NULL,            -- online | unavailable | offline
  status_msg        TEXT,
  last_active_ts    BIGINT NOT NULL,
  currently_active  BOOLEAN NOT NULL DEFAULT false,
  stream_id         BIGSERIAL NOT NULL
);
CREATE INDEX hs_presence_stream ON hs_presence (stream_id);
