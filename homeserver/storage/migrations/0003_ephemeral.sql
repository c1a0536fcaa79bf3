-- Typing notices and receipts. Each change takes a new stream position so sync tokens can name
-- "everything up to here" for these streams too, and a restarted or different process can serve
-- any incremental sync.
CREATE TABLE hs_typing (
  room_id     TEXT NOT NULL,
  user_id     TEXT NOT NULL,
  expires_ts  BIGINT NOT NULL,                 -- 0 once the user stopped typing
  stream_id   BIGSERIAL NOT NULL,
  PRIMARY KEY (room_id, user_id)
);
CREATE INDEX hs_typing_stream ON hs_typing (stream_id);

-- The latest receipt per (room, type, user, thread); older ones are replaced.
CREATE TABLE hs_receipts (
  room_id       TEXT NOT NULL,
  receipt_type  TEXT NOT NULL,                 -- m.read | m.read.private
  user_id       TEXT NOT NULL,
  thread_id     TEXT NOT NULL DEFAULT '',      -- '' = unthreaded
  event_id      TEXT NOT NULL,
  event_stream  BIGINT NOT NULL,               -- the receipted event's position, for unread counts
  ts            BIGINT NOT NULL,
  stream_id     BIGSERIAL NOT NULL,
  PRIMARY KEY (room_id, receipt_type, user_id, thread_id)
);
CREATE INDEX hs_receipts_stream ON hs_receipts (stream_id);
CREATE INDEX hs_receipts_user ON hs_receipts (user_id, room_id);
