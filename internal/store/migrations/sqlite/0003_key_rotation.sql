-- Key rotation, sqlite flavour. Keep in step with postgres/0003_key_rotation.sql.
--
-- tollgate keys rotate gives a key a new secret and, with an overlap, keeps
-- the previous one working until prev_expires_at (unix ms), so that the
-- clients holding it can be moved over without an outage. Only the hash is
-- kept, as for the current secret; NULL means no previous secret.

ALTER TABLE keys ADD COLUMN prev_secret_hash TEXT;
ALTER TABLE keys ADD COLUMN prev_expires_at INTEGER;
