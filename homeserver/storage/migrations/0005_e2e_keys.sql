-- End-to-end encryption: the server stores and relays public keys, signatures, encrypted
-- to-device messages and encrypted key backups; it never sees plaintext. JSON objects are kept as
-- TEXT exactly as uploaded (clients verify signatures over them).

-- Per-stream head: the highest position whose rows are all committed. A writer locks its stream's
-- row (the last lock it takes), inserts (BIGSERIAL positions), moves the head and commits, so
-- positions become visible in order and a reader never skips a row that commits later.
CREATE TABLE hs_e2e_stream_heads (
  stream    TEXT PRIMARY KEY,                -- 'to_device' | 'device_lists'
  position  BIGINT NOT NULL
);
INSERT INTO hs_e2e_stream_heads (stream, position) VALUES ('to_device', 0), ('device_lists', 0);

-- Device identity keys (POST /keys/upload device_keys), one object per device.
CREATE TABLE hs_e2e_device_keys (
  user_id     TEXT NOT NULL,
  device_id   TEXT NOT NULL,
  key_json    TEXT NOT NULL,
  ts          BIGINT NOT NULL,
  PRIMARY KEY (user_id, device_id),
  FOREIGN KEY (user_id, device_id) REFERENCES hs_devices(user_id, device_id) ON DELETE CASCADE
);

-- Unclaimed one-time keys; `id` is the upload order (claims take the oldest first).
CREATE TABLE hs_e2e_one_time_keys (
  id          BIGSERIAL PRIMARY KEY,
  user_id     TEXT NOT NULL,
  device_id   TEXT NOT NULL,
  algorithm   TEXT NOT NULL,
  key_id      TEXT NOT NULL,
  key_json    TEXT NOT NULL,
  UNIQUE (user_id, device_id, algorithm, key_id),
  FOREIGN KEY (user_id, device_id) REFERENCES hs_devices(user_id, device_id) ON DELETE CASCADE
);
CREATE INDEX hs_e2e_one_time_keys_claim ON hs_e2e_one_time_keys (user_id, device_id, algorithm, id);

-- At most one fallback key per device and algorithm; handed out (and marked used) when the
-- one-time keys run out, and never deleted by a claim.
CREATE TABLE hs_e2e_fallback_keys (
  user_id     TEXT NOT NULL,
  device_id   TEXT NOT NULL,
  algorithm   TEXT NOT NULL,
  key_id      TEXT NOT NULL,
  key_json    TEXT NOT NULL,
  used        BOOLEAN NOT NULL DEFAULT false,
  PRIMARY KEY (user_id, device_id, algorithm),
  FOREIGN KEY (user_id, device_id) REFERENCES hs_devices(user_id, device_id) ON DELETE CASCADE
);

-- The current cross-signing keys of each user.
CREATE TABLE hs_e2e_cross_signing_keys (
  user_id     TEXT NOT NULL,
  key_type    TEXT NOT NULL,                 -- master | self_signing | user_signing
  public_key  TEXT NOT NULL,                 -- unpadded base64 (the part after `ed25519:`)
  key_json    TEXT NOT NULL,
  ts          BIGINT NOT NULL,
  PRIMARY KEY (user_id, key_type)
);

-- Signatures added later through POST /keys/signatures/upload, merged into the signed objects
-- when they are served. target_key_id is a device id or a cross-signing public key.
CREATE TABLE hs_e2e_signatures (
  target_user_id  TEXT NOT NULL,
  target_key_id   TEXT NOT NULL,
  signer_user_id  TEXT NOT NULL,
  signer_key_id   TEXT NOT NULL,             -- e.g. ed25519:<self-signing public key>
  signature       TEXT NOT NULL,
  PRIMARY KEY (target_user_id, target_key_id, signer_user_id, signer_key_id)
);

-- Device list changes: a user's device keys or cross-signing keys changed. `audience` NULL means
-- everyone sharing a room with user_id (and user_id itself) must re-query; otherwise only that
-- user (a signature one user made on another's key concerns the signer only).
CREATE TABLE hs_e2e_device_list_changes (
  position    BIGSERIAL PRIMARY KEY,
  user_id     TEXT NOT NULL,
  audience    TEXT,
  ts          BIGINT NOT NULL
);
CREATE INDEX hs_e2e_device_list_changes_user ON hs_e2e_device_list_changes (user_id, position);

-- Send-to-device inbox, deleted once the device syncs past a message (acknowledgement).
CREATE TABLE hs_e2e_device_inbox (
  position    BIGSERIAL PRIMARY KEY,
  user_id     TEXT NOT NULL,
  device_id   TEXT NOT NULL,
  sender      TEXT NOT NULL,
  type        TEXT NOT NULL,
  content     TEXT NOT NULL,
  ts          BIGINT NOT NULL,
  FOREIGN KEY (user_id, device_id) REFERENCES hs_devices(user_id, device_id) ON DELETE CASCADE
);
CREATE INDEX hs_e2e_device_inbox_device ON hs_e2e_device_inbox (user_id, device_id, position);

-- Idempotent PUT /sendToDevice: one row per (sender, sending device, txnId).
CREATE TABLE hs_e2e_to_device_txns (
  user_id     TEXT NOT NULL,
  device_id   TEXT NOT NULL,                 -- '' when the requester has no device
  txn_id      TEXT NOT NULL,
  created_ts  BIGINT NOT NULL,
  PRIMARY KEY (user_id, device_id, txn_id)
);

-- Server-side key backup (room_keys). Versions are numbered per user and never reused; a deleted
-- version keeps its row (deleted = true) so DELETE stays idempotent.
CREATE TABLE hs_e2e_backup_versions (
  user_id     TEXT NOT NULL,
  version     BIGINT NOT NULL,
  algorithm   TEXT NOT NULL,
  auth_data   TEXT NOT NULL,
  etag        BIGINT NOT NULL DEFAULT 0,     -- bumped whenever the stored sessions change
  deleted     BOOLEAN NOT NULL DEFAULT false,
  created_ts  BIGINT NOT NULL,
  PRIMARY KEY (user_id, version)
);

CREATE TABLE hs_e2e_backup_sessions (
  user_id              TEXT NOT NULL,
  version              BIGINT NOT NULL,
  room_id              TEXT NOT NULL,
  session_id           TEXT NOT NULL,
  first_message_index  BIGINT NOT NULL,
  forwarded_count      BIGINT NOT NULL,
  is_verified          BOOLEAN NOT NULL,
  session_data         TEXT NOT NULL,
  PRIMARY KEY (user_id, version, room_id, session_id)
);
