-- Admin accounts, scoped API tokens and the audit log, postgres flavour. Keep
-- in step with sqlite/0007_admins_audit.sql.
--
-- admin_accounts are named people who sign in to the admin API, the CLI or
-- the console. password_hash is an argon2id PHC string
-- ($argon2id$v=19$m=…,t=…,p=…$salt$hash); team_ids is a JSON array of the
-- teams a team_admin administers.
CREATE TABLE admin_accounts (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL,
    team_ids      TEXT NOT NULL DEFAULT '[]',
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    last_login_at BIGINT
);

-- admin_tokens are scoped API tokens for automation ("tgt-…" secrets),
-- stored as SHA-256 like virtual keys. A revoked token stays, for the audit
-- log's references.
CREATE TABLE admin_tokens (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    prefix       TEXT NOT NULL,
    secret_hash  TEXT NOT NULL UNIQUE,
    role         TEXT NOT NULL,
    team_ids     TEXT NOT NULL DEFAULT '[]',
    expires_at   BIGINT,
    created_by   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);

-- audit_log is append-only: the store has no method that updates or
-- deletes its rows, and the usage purge never touches it. seq orders the
-- log and is the cursor of GET /admin/audit.
CREATE TABLE audit_log (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          BIGINT NOT NULL,
    actor_kind  TEXT NOT NULL,
    actor_id    TEXT NOT NULL DEFAULT '',
    actor_name  TEXT NOT NULL DEFAULT '',
    actor_role  TEXT NOT NULL DEFAULT '',
    via         TEXT NOT NULL DEFAULT '',
    remote_addr TEXT NOT NULL DEFAULT '',
    action      TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    target_type TEXT NOT NULL DEFAULT '',
    target_id   TEXT NOT NULL DEFAULT '',
    target_name TEXT NOT NULL DEFAULT '',
    before_json TEXT,
    after_json  TEXT,
    request_id  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_target ON audit_log (target_type, target_id);
