-- Remote events can arrive more than once: a network replays what a login missed while offline
-- (Telegram getDifference, WhatsApp offline notifications) from the last position the connector
-- saved, which may trail what the core already applied. These columns make every replay a no-op.

-- A deleted message keeps its mapping as a tombstone, so a replayed message does not come back.
ALTER TABLE bridge_messages ADD COLUMN deleted_ts BIGINT;
-- The network time of the last remote edit applied: an edit not newer than it is a replay.
ALTER TABLE bridge_messages ADD COLUMN last_edit_ts BIGINT NOT NULL DEFAULT 0;
-- A reaction removed on the network keeps its row until the same reaction comes again later,
-- so a replayed (older) reaction is not shown a second time.
ALTER TABLE bridge_reactions ADD COLUMN removed_ts BIGINT;
