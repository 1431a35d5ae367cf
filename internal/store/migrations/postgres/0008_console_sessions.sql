-- Console sign-in sessions, postgres flavour. Keep in step with the other engine's
-- 0008_console_sessions.sql.
--
-- A session is stored by the SHA-256 of its cookie value, so that a copy
-- of the database (a backup, a replica) cannot be turned into a signed-in
-- browser. It lives in the database rather than in memory so that it
-- survives a restart and works on every replica behind a load balancer.
-- principal is the authz.Principal as JSON: who signed in, with which role.
CREATE TABLE console_sessions (
    id_hash      TEXT PRIMARY KEY,
    principal    TEXT NOT NULL,
    csrf_token   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX console_sessions_expires ON console_sessions (expires_at);
