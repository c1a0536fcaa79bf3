-- Application-service registrations added at runtime (admin API, `causeway appservice-add`).
-- Registrations from config files are not stored: the files stay the truth for those.
-- `document` is the registration as the operator wrote it (parsed YAML, JSON here), re-validated on load.
CREATE TABLE as_registrations (
  id          TEXT PRIMARY KEY,
  as_token    TEXT NOT NULL UNIQUE,
  hs_token    TEXT NOT NULL UNIQUE,
  document    JSONB NOT NULL,
  created_ts  BIGINT NOT NULL
);
