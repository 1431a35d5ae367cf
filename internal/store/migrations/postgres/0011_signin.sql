-- Sign-in, postgres flavour. Keep in step with sqlite/0011_signin.sql.

-- identities link a person at an identity provider (issuer + the configured
-- user-id claim) to the Tollgate user created at their first sign-in. The
-- email and groups are the ones seen at the last sign-in, for the console.
CREATE TABLE identities (
    issuer       TEXT NOT NULL,
    subject      TEXT NOT NULL,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email        TEXT NOT NULL DEFAULT '',
    group_names  TEXT NOT NULL DEFAULT '[]',
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX identities_user ON identities (user_id);

-- signin_states are sign-ins begun and not yet completed, kept in the
-- database so that the callback may land on another replica. The state is
-- stored as its SHA-256 only; a row is taken (deleted) by the callback that
-- uses it, so a state works once, and is refused after expires_at (unix ms).
CREATE TABLE signin_states (
    state_hash TEXT PRIMARY KEY,
    nonce      TEXT NOT NULL,
    verifier   TEXT NOT NULL,
    return_to  TEXT NOT NULL DEFAULT '',
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX signin_states_expires ON signin_states (expires_at);

-- ci_keys are the keys exchanged for a GitHub Actions OIDC token: the rule
-- that granted the key and the token's claims (repository, workflow, ref,
-- run, ...) as JSON, for the console and audits.
CREATE TABLE ci_keys (
    key_id     TEXT PRIMARY KEY REFERENCES keys (id) ON DELETE CASCADE,
    issuer     TEXT NOT NULL,
    rule       TEXT NOT NULL,
    repository TEXT NOT NULL,
    run_id     TEXT NOT NULL,
    claims     TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX ci_keys_repository ON ci_keys (repository, created_at);
