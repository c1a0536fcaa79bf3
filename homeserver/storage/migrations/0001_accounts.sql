-- Accounts, devices and access tokens. Tokens and passwords are never stored in the clear.
CREATE TABLE hs_users (
  user_id        TEXT PRIMARY KEY,
  password_hash  TEXT,                       -- scrypt$N$r$p$salt$hash; NULL: cannot log in with a password
  is_admin       BOOLEAN NOT NULL DEFAULT false,
  deactivated    BOOLEAN NOT NULL DEFAULT false,
  appservice_id  TEXT,
  displayname    TEXT,
  avatar_url     TEXT,
  created_ts     BIGINT NOT NULL
);

CREATE TABLE hs_devices (
  user_id       TEXT NOT NULL REFERENCES hs_users(user_id),
  device_id     TEXT NOT NULL,
  display_name  TEXT,
  last_seen_ts  BIGINT,
  last_seen_ip  TEXT,
  created_ts    BIGINT NOT NULL,
  PRIMARY KEY (user_id, device_id)
);

CREATE TABLE hs_access_tokens (
  token_hash  BYTEA PRIMARY KEY,             -- SHA-256 of the token: a leaked table grants nothing
  user_id     TEXT NOT NULL,
  device_id   TEXT NOT NULL,
  created_ts  BIGINT NOT NULL,
  FOREIGN KEY (user_id, device_id) REFERENCES hs_devices(user_id, device_id) ON DELETE CASCADE
);
CREATE INDEX hs_access_tokens_device ON hs_access_tokens (user_id, device_id);

-- User-interactive auth sessions live in the database so any client-api process can continue one.
CREATE TABLE hs_uia_sessions (
  session_id  TEXT PRIMARY KEY,
  user_id     TEXT,
  action      TEXT NOT NULL,                 -- the endpoint the session was started for
  completed   TEXT[] NOT NULL DEFAULT '{}',
  params      JSONB NOT NULL DEFAULT '{}',
  created_ts  BIGINT NOT NULL
);

-- The server's ed25519 signing keys: generated on first start, served at /_matrix/key/v2/server.
CREATE TABLE hs_signing_keys (
  key_id      TEXT PRIMARY KEY,
  seed        BYTEA NOT NULL,
  created_ts  BIGINT NOT NULL,
  expired_ts  BIGINT
);
