-- History backfill for appservices (com.beeper.backfill batch_send).
--
-- Historical events inserted before a room's timeline take their positions from a second,
-- descending ordering: hs_events.stream_ordering below zero, each backward batch older than the
-- previous one. Every incremental reader (sync since a token, appservice delivery, device lists)
-- reads positions above a point >= 0, so historical events are never seen as new, while the
-- readers that walk a room's history by stream_ordering (/messages, /context, sync timelines)
-- find them before the room's first events. Numbers are global (stream_ordering is the primary
-- key); per-room order comes from taking them under a per-room lock.
CREATE SEQUENCE hs_events_backfill_seq INCREMENT BY -1 MAXVALUE -1 START WITH -1;

-- Forward batches sent with send_notification = false: normal timeline events that must not
-- count towards anyone's unread notifications. A constant default adds no table rewrite.
ALTER TABLE hs_events ADD COLUMN silent BOOLEAN NOT NULL DEFAULT false;
