-- Rooms and their events. Causeway is the only server in its rooms (no federation yet), so each
-- room's DAG is a single chain: one forward extremity, stored on hs_rooms and updated with a
-- compare-and-set so two processes can never both append to the same head.
CREATE TABLE hs_rooms (
  room_id         TEXT PRIMARY KEY,
  room_version    TEXT NOT NULL,
  creator         TEXT NOT NULL,
  is_public       BOOLEAN NOT NULL DEFAULT false,   -- listed in the public room directory
  head_event_id   TEXT NOT NULL,
  head_depth      BIGINT NOT NULL,
  created_ts      BIGINT NOT NULL
);
CREATE INDEX hs_rooms_public ON hs_rooms (room_id) WHERE is_public;

-- stream_ordering is the global position every stream (sync, appservice delivery, pagination)
-- reads from; it is assigned at insert time inside the committing transaction.
CREATE TABLE hs_events (
  stream_ordering  BIGSERIAL PRIMARY KEY,
  event_id         TEXT NOT NULL UNIQUE,
  room_id          TEXT NOT NULL,
  type             TEXT NOT NULL,
  state_key        TEXT,
  sender           TEXT NOT NULL,
  origin_server_ts BIGINT NOT NULL,
  depth            BIGINT NOT NULL,
  json             TEXT NOT NULL,             -- the full signed PDU as stored (canonical JSON)
  redacted_by      TEXT,                      -- event id of an applied redaction; served pruned
  unsigned         TEXT,                      -- server-added client fields: prev_content, replaces_state
  txn_device       TEXT,                      -- the sending device and its transaction id, for
  txn_id           TEXT                       --   unsigned.transaction_id on the sender's own copy
);
CREATE INDEX hs_events_room_stream ON hs_events (room_id, stream_ordering);

-- Idempotent sends: one row per (user, device, txnId).
CREATE TABLE hs_event_txns (
  user_id     TEXT NOT NULL,
  device_id   TEXT NOT NULL,
  txn_id      TEXT NOT NULL,
  event_id    TEXT NOT NULL,
  created_ts  BIGINT NOT NULL,
  PRIMARY KEY (user_id, device_id, txn_id)
);

-- Current state of each room.
CREATE TABLE hs_room_state (
  room_id    TEXT NOT NULL,
  type       TEXT NOT NULL,
  state_key  TEXT NOT NULL,
  event_id   TEXT NOT NULL,
  PRIMARY KEY (room_id, type, state_key)
);

-- Current membership, denormalised from hs_room_state for per-user lookups (joined_rooms, sync).
CREATE TABLE hs_memberships (
  room_id          TEXT NOT NULL,
  user_id          TEXT NOT NULL,
  membership       TEXT NOT NULL,
  event_id         TEXT NOT NULL,
  stream_ordering  BIGINT NOT NULL,
  forgotten        BOOLEAN NOT NULL DEFAULT false,
  PRIMARY KEY (room_id, user_id)
);
CREATE INDEX hs_memberships_user ON hs_memberships (user_id, membership);

CREATE TABLE hs_room_aliases (
  alias       TEXT PRIMARY KEY,
  room_id     TEXT NOT NULL,
  creator     TEXT NOT NULL,
  created_ts  BIGINT NOT NULL
);
CREATE INDEX hs_room_aliases_room ON hs_room_aliases (room_id);

-- State at any point of the chain: the latest state event per (type, state_key) at or before a position.
CREATE INDEX hs_events_room_state_history ON hs_events (room_id, type, state_key, stream_ordering)
  WHERE state_key IS NOT NULL;
