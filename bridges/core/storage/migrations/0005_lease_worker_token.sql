-- The login relay's address of the worker holding a lease (its ProcessRelay worker token), written
-- with `owner` at every acquisition: a worker without the login's session forwards the login's
-- provisioning calls (contacts, resolve_identifier, create_dm) there. NULL for a holder that does
-- not serve the relay (or an older version): its logins' calls are then not forwarded.
ALTER TABLE bridge_login_leases ADD COLUMN worker_token TEXT;
