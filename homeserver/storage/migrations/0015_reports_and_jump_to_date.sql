-- Content reports (spec: "Reporting content"; homeserver/services/reports/). One table for event
-- reports (event_id set) and room reports (event_id NULL, spec v1.13), read by server admins
-- through /_causeway/admin/v1/event_reports and /room_reports. `id` is the pagination key.
CREATE TABLE hs_content_reports (
  id          BIGSERIAL PRIMARY KEY,
  received_ts BIGINT NOT NULL,                   -- ms
  room_id     TEXT NOT NULL,
  event_id    TEXT,                              -- NULL: the room itself is reported
  user_id     TEXT NOT NULL,                     -- the reporter
  reason      TEXT,
  content     JSONB NOT NULL                     -- the request body as sent (reason, score, ...)
);
CREATE INDEX hs_content_reports_kind ON hs_content_reports ((event_id IS NULL), id);

-- GET /rooms/{roomId}/timestamp_to_event (jump to date): the closest event to a time, per room.
CREATE INDEX hs_events_room_ts ON hs_events (room_id, origin_server_ts);
