-- OpenID tokens (spec: "OpenID"; homeserver/services/openid/). A client asks for one to prove its
-- identity to an integration (widgets, Element Call's focus); the integration checks it with
-- GET /_matrix/federation/v1/openid/userinfo. Only the SHA-256 of a token is stored, as for
-- access tokens, so a database read does not hand out identities.
CREATE TABLE hs_openid_tokens (
  token_hash     BYTEA PRIMARY KEY,
  user_id        TEXT NOT NULL,
  valid_until_ts BIGINT NOT NULL                -- ms; the token is refused from this instant on
);
-- Expired rows are pruned by the issuing path (see OpenIdTokens.issue).
CREATE INDEX hs_openid_tokens_expiry ON hs_openid_tokens (valid_until_ts);
