-- The bridge core's tables (bridgev2 model). Every row is scoped by bridge_id, so several bridges
-- (telegram, whatsapp, test networks) share one database. Remote ids are the connectors' opaque
-- strings (bridges/core/network/ids.ts). `receiver` is '' for portals shared by all logins.

CREATE TABLE bridge_user_logins (
  bridge_id      TEXT NOT NULL,
  login_id       TEXT NOT NULL,
  user_mxid      TEXT NOT NULL,
  remote_name    TEXT NOT NULL DEFAULT '',
  -- connector-owned, non-secret (secrets live sealed in the crypto store)
  metadata       JSONB NOT NULL DEFAULT '{}',
  state          TEXT NOT NULL DEFAULT 'CONNECTING',
  state_error    TEXT,
  state_message  TEXT,
  state_info     JSONB,
  state_ts       BIGINT NOT NULL DEFAULT 0,
  created_ts     BIGINT NOT NULL,
  PRIMARY KEY (bridge_id, login_id)
);
CREATE INDEX bridge_user_logins_user ON bridge_user_logins (bridge_id, user_mxid);

CREATE TABLE bridge_portals (
  bridge_id      TEXT NOT NULL,
  chat_id        TEXT NOT NULL,
  receiver       TEXT NOT NULL DEFAULT '',
  room_id        TEXT,
  chat_type      TEXT NOT NULL DEFAULT 'group',
  name           TEXT,
  topic          TEXT,
  avatar_id      TEXT,
  avatar_mxc     TEXT,
  -- the remote user of a DM portal (its ghost is the room's other member)
  other_user_id  TEXT,
  metadata       JSONB NOT NULL DEFAULT '{}',
  created_ts     BIGINT NOT NULL,
  PRIMARY KEY (bridge_id, chat_id, receiver)
);
CREATE UNIQUE INDEX bridge_portals_room ON bridge_portals (bridge_id, room_id) WHERE room_id IS NOT NULL;

-- Which logins take part in which portal (routes a Matrix message in a shared portal to the
-- sender's login, and tells whom to invite).
CREATE TABLE bridge_user_portals (
  bridge_id      TEXT NOT NULL,
  login_id       TEXT NOT NULL,
  chat_id        TEXT NOT NULL,
  receiver       TEXT NOT NULL DEFAULT '',
  in_space       BOOLEAN NOT NULL DEFAULT false,
  PRIMARY KEY (bridge_id, login_id, chat_id, receiver)
);

CREATE TABLE bridge_ghosts (
  bridge_id      TEXT NOT NULL,
  remote_user_id TEXT NOT NULL,
  mxid           TEXT NOT NULL,
  name           TEXT,
  avatar_id      TEXT,
  avatar_mxc     TEXT,
  identifiers    TEXT[] NOT NULL DEFAULT '{}',
  is_bot         BOOLEAN NOT NULL DEFAULT false,
  -- whether the Matrix profile already carries name/avatar (set once, then on change only)
  name_set       BOOLEAN NOT NULL DEFAULT false,
  avatar_set     BOOLEAN NOT NULL DEFAULT false,
  metadata       JSONB NOT NULL DEFAULT '{}',
  PRIMARY KEY (bridge_id, remote_user_id)
);
CREATE UNIQUE INDEX bridge_ghosts_mxid ON bridge_ghosts (bridge_id, mxid);

-- Message id mapping, both ways: replies, edits, reactions and deletes need it. A remote message
-- that becomes several Matrix events (caption + media) has one row per part.
CREATE TABLE bridge_messages (
  bridge_id        TEXT NOT NULL,
  chat_id          TEXT NOT NULL,
  receiver         TEXT NOT NULL DEFAULT '',
  remote_id        TEXT NOT NULL,
  part_id          TEXT NOT NULL DEFAULT '',
  event_id         TEXT NOT NULL,
  room_id          TEXT NOT NULL,
  sender_remote_id TEXT NOT NULL,
  sender_mxid      TEXT NOT NULL,
  timestamp        BIGINT NOT NULL,
  edit_count       INTEGER NOT NULL DEFAULT 0,
  thread_root_id   TEXT,
  metadata         JSONB NOT NULL DEFAULT '{}',
  PRIMARY KEY (bridge_id, chat_id, receiver, remote_id, part_id)
);
CREATE UNIQUE INDEX bridge_messages_event ON bridge_messages (bridge_id, event_id);
CREATE INDEX bridge_messages_time ON bridge_messages (bridge_id, chat_id, receiver, timestamp);

CREATE TABLE bridge_reactions (
  bridge_id         TEXT NOT NULL,
  chat_id           TEXT NOT NULL,
  receiver          TEXT NOT NULL DEFAULT '',
  message_remote_id TEXT NOT NULL,
  sender_remote_id  TEXT NOT NULL,
  key               TEXT NOT NULL,
  reaction_remote_id TEXT,
  event_id          TEXT NOT NULL,
  timestamp         BIGINT NOT NULL,
  PRIMARY KEY (bridge_id, chat_id, receiver, message_remote_id, sender_remote_id, key)
);
CREATE UNIQUE INDEX bridge_reactions_event ON bridge_reactions (bridge_id, event_id);

-- A login runs in exactly one worker: the holder of an unexpired lease. `token` grows by one on
-- every acquisition (a fencing token): writes made on behalf of a login carry the token they
-- were made under and are refused once another worker has taken the lease.
CREATE TABLE bridge_login_leases (
  bridge_id  TEXT NOT NULL,
  login_id   TEXT NOT NULL,
  owner      TEXT NOT NULL,
  token      BIGINT NOT NULL,
  expires_at TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (bridge_id, login_id)
);
CREATE INDEX bridge_login_leases_owner ON bridge_login_leases (bridge_id, owner);

-- Network credentials and keys, sealed (tweetnacl secretbox) under a key derived per login from
-- a master secret that is never in the database. Only ciphertext is stored.
CREATE TABLE bridge_crypto_keys (
  bridge_id  TEXT NOT NULL,
  login_id   TEXT NOT NULL,
  namespace  TEXT NOT NULL,
  key_id     TEXT NOT NULL,
  sealed     BYTEA NOT NULL,
  PRIMARY KEY (bridge_id, login_id, namespace, key_id)
);
