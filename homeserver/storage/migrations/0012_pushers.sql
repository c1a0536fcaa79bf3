-- Pushers (spec: "Push notifications"; homeserver/services/push/). One row per (user, app_id,
-- pushkey). HTTP pushers belong to the device whose access token created them and go with it
-- (logout, device deletion), as Synapse does; email pushers have no device (they should outlive a
-- logout) and are stored only: no email is sent.
CREATE TABLE hs_pushers (
  user_id             TEXT NOT NULL,
  app_id              TEXT NOT NULL,
  pushkey             TEXT NOT NULL,
  kind                TEXT NOT NULL,             -- 'http' | 'email'
  app_display_name    TEXT NOT NULL,
  device_display_name TEXT NOT NULL,
  profile_tag         TEXT,
  lang                TEXT NOT NULL,
  data                JSONB NOT NULL,            -- as the client sent it (url, format, custom keys)
  device_id           TEXT,                      -- NULL: not tied to a device
  pushkey_ts          BIGINT NOT NULL,           -- ms; when the pushkey was (re)registered
  -- Delivery: every hs_events stream_ordering <= last_stream_ordering was pushed (or needed no
  -- push). A new pusher starts at the current position: it pushes what happens from now on.
  last_stream_ordering BIGINT NOT NULL,
  failing_since       BIGINT,                    -- ms; first failure of the notification in flight
  PRIMARY KEY (user_id, app_id, pushkey)
);
CREATE INDEX hs_pushers_app_pushkey ON hs_pushers (app_id, pushkey);
CREATE INDEX hs_pushers_device ON hs_pushers (user_id, device_id);
