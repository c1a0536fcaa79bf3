-- Full-text search over room events (POST /search, homeserver/services/rooms/search/).
--
-- No search table and no trigger: the indexes below are expression indexes over the stored event
-- JSON, so the room write path (EventCommitter) is unchanged and a send costs only the index
-- insertion of its own row (GIN's pending list makes that an append; see docs/ARCHITECTURE.md).
-- Partial indexes: only the three event types Synapse indexes are searched.
--
-- The vector of one content field. 'simple' (lowercased words, no stemming, no stop words): a
-- room's language is unknown, and English stemming mangles the rest. Events whose JSON holds
-- "\u0000" anywhere are left out (NULL) instead of failing: jsonb cannot hold U+0000, and an error
-- here would make the INSERT of the event itself fail. (Lone surrogates, jsonb's other refusal, are
-- already rejected by the canonical JSON encoder.) Queries must call this same function for the
-- planner to match the index expressions.
CREATE FUNCTION hs_search_vector(event_json TEXT, field TEXT) RETURNS tsvector
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN CASE WHEN strpos(event_json, '\u0000') = 0
    THEN to_tsvector('simple'::regconfig, (event_json::jsonb -> 'content') ->> field) END;

CREATE INDEX hs_events_search_body ON hs_events USING GIN (hs_search_vector(json, 'body'))
  WHERE type = 'm.room.message';
CREATE INDEX hs_events_search_name ON hs_events USING GIN (hs_search_vector(json, 'name'))
  WHERE type = 'm.room.name';
CREATE INDEX hs_events_search_topic ON hs_events USING GIN (hs_search_vector(json, 'topic'))
  WHERE type = 'm.room.topic';
