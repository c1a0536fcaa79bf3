-- Event relationships (spec: "Forming relationships between events"): one row per event whose
-- content carries `m.relates_to` with a `rel_type` and an `event_id` (threads, edits, reactions,
-- references and custom types). Written in the same statement as the event itself; the row of a
-- redacted child is deleted with the redaction, so aggregations and /relations drop it.
CREATE TABLE hs_event_relations (
  room_id          TEXT NOT NULL,
  parent_id        TEXT NOT NULL,
  rel_type         TEXT NOT NULL,
  event_id         TEXT NOT NULL,   -- the child
  stream_ordering  BIGINT NOT NULL, -- the child's position: /relations pages and threads order by it
  sender           TEXT NOT NULL,
  type             TEXT NOT NULL,
  aggregation_key  TEXT,            -- m.annotation's `key`
  PRIMARY KEY (room_id, parent_id, rel_type, event_id)
);
-- An event relates to at most one parent; redactions delete by child.
CREATE UNIQUE INDEX hs_event_relations_child ON hs_event_relations (event_id);
-- /relations pages of one parent in position order (any rel_type).
CREATE INDEX hs_event_relations_parent_pos ON hs_event_relations (room_id, parent_id, stream_ordering);
-- GET /threads: a room's thread replies by position.
CREATE INDEX hs_event_relations_threads ON hs_event_relations (room_id, stream_ordering) WHERE rel_type = 'm.thread';
