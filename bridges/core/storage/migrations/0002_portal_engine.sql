-- The portal engine's tables: the durable outbox of Matrix -> network sends, and the bridge's own
-- appservice tokens (generated once, kept across restarts).

-- One row per Matrix event that must reach the network (message, edit, redaction, reaction).
-- The primary key is the Matrix event id: a redelivered transaction inserts nothing, and a row
-- marked `sent` is never sent again. Rows are claimed by the worker holding the login's lease.
CREATE TABLE bridge_outbox (
  bridge_id        TEXT NOT NULL,
  event_id         TEXT NOT NULL,
  seq              BIGSERIAL NOT NULL,
  room_id          TEXT NOT NULL,
  chat_id          TEXT NOT NULL,
  receiver         TEXT NOT NULL DEFAULT '',
  login_id         TEXT NOT NULL,
  -- the Matrix event as received (content, type, sender, origin_server_ts)
  event            JSONB NOT NULL,
  -- pending | sent | failed
  status           TEXT NOT NULL DEFAULT 'pending',
  attempts         INTEGER NOT NULL DEFAULT 0,
  next_attempt_ts  BIGINT NOT NULL,
  claimed_by       TEXT,
  claimed_until    BIGINT NOT NULL DEFAULT 0,
  last_error       TEXT,
  created_ts       BIGINT NOT NULL,
  done_ts          BIGINT,
  PRIMARY KEY (bridge_id, event_id)
);
CREATE INDEX bridge_outbox_due ON bridge_outbox (bridge_id, next_attempt_ts, seq) WHERE status = 'pending';

-- The bridge's appservice registration tokens. Generated at the first start and reused, so the
-- homeserver's registration (config file or runtime) keeps matching after restarts.
CREATE TABLE bridge_appservice (
  bridge_id   TEXT PRIMARY KEY,
  as_token    TEXT NOT NULL,
  hs_token    TEXT NOT NULL,
  created_ts  BIGINT NOT NULL
);
