-- Tollgate schema, SQLite flavour. Keep in step with postgres/0001_init.sql:
-- same tables, columns and meaning; only the types differ (INTEGER for
-- booleans and int64, TEXT for JSON). Times are unix milliseconds, money is
-- micro-USD.

CREATE TABLE users (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    email      TEXT NOT NULL DEFAULT '',
    disabled   INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);

CREATE TABLE teams (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

CREATE TABLE team_members (
    team_id    TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (team_id, user_id)
) WITHOUT ROWID;
CREATE INDEX team_members_user ON team_members (user_id);

CREATE TABLE keys (
    id           TEXT PRIMARY KEY,
    alias        TEXT NOT NULL UNIQUE,
    prefix       TEXT NOT NULL,
    secret_hash  TEXT NOT NULL UNIQUE,
    user_id      TEXT REFERENCES users (id),
    team_id      TEXT REFERENCES teams (id),
    expires_at   INTEGER,
    models       TEXT NOT NULL DEFAULT '[]',
    tags         TEXT NOT NULL DEFAULT '{}',
    disabled     INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER
);
CREATE INDEX keys_user ON keys (user_id);
CREATE INDEX keys_team ON keys (team_id);

CREATE TABLE budgets (
    id               TEXT PRIMARY KEY,
    scope_kind       TEXT NOT NULL CHECK (scope_kind IN ('key', 'user', 'team')),
    scope_id         TEXT NOT NULL,
    limit_usd_micros INTEGER,
    limit_tokens     INTEGER,
    period           TEXT NOT NULL CHECK (period IN ('day', 'week', 'month', 'total')),
    timezone         TEXT NOT NULL DEFAULT 'UTC',
    thresholds       TEXT NOT NULL DEFAULT '[50,80,100]',
    created_at       INTEGER NOT NULL,
    CHECK (limit_usd_micros IS NOT NULL OR limit_tokens IS NOT NULL),
    UNIQUE (scope_kind, scope_id, period)
);

CREATE TABLE rate_limits (
    id         TEXT PRIMARY KEY,
    scope_kind TEXT NOT NULL CHECK (scope_kind IN ('key', 'user', 'team')),
    scope_id   TEXT NOT NULL,
    rpm        INTEGER NOT NULL DEFAULT 0,
    tpm        INTEGER NOT NULL DEFAULT 0,
    concurrent INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    UNIQUE (scope_kind, scope_id)
);

CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

-- One row per metered request. Raw rows have a retention (PurgeUsage);
-- charts and budgets read the hourly rollups below instead.
CREATE TABLE usage_records (
    id                    INTEGER PRIMARY KEY,
    request_id            TEXT NOT NULL,
    ts_ms                 INTEGER NOT NULL,
    key_id                TEXT NOT NULL,
    key_alias             TEXT NOT NULL,
    user_id               TEXT NOT NULL,
    team_id               TEXT NOT NULL,
    session_id            TEXT NOT NULL,
    tags                  TEXT NOT NULL,
    model_requested       TEXT NOT NULL,
    model                 TEXT NOT NULL,
    upstream_model        TEXT NOT NULL,
    provider              TEXT NOT NULL,
    region                TEXT NOT NULL,
    door                  TEXT NOT NULL,
    stream                INTEGER NOT NULL,
    status                INTEGER NOT NULL,
    error_origin          TEXT NOT NULL,
    latency_ms            INTEGER NOT NULL,
    ttft_ms               INTEGER NOT NULL,
    input_tokens          INTEGER NOT NULL,
    output_tokens         INTEGER NOT NULL,
    cache_write_5m_tokens INTEGER NOT NULL,
    cache_write_1h_tokens INTEGER NOT NULL,
    cache_read_tokens     INTEGER NOT NULL,
    cost_micros           INTEGER NOT NULL,
    unpriced              INTEGER NOT NULL
);
CREATE INDEX usage_records_ts ON usage_records (ts_ms);
CREATE INDEX usage_records_key_ts ON usage_records (key_id, ts_ms);
CREATE INDEX usage_records_user_ts ON usage_records (user_id, ts_ms);
CREATE INDEX usage_records_team_ts ON usage_records (team_id, ts_ms);

-- Hourly rollup per key, user, team and model. '' stands for "none" so the
-- columns can be part of the primary key.
CREATE TABLE usage_hourly (
    hour_ms               INTEGER NOT NULL,
    key_id                TEXT NOT NULL,
    user_id               TEXT NOT NULL,
    team_id               TEXT NOT NULL,
    model                 TEXT NOT NULL,
    requests              INTEGER NOT NULL,
    errors                INTEGER NOT NULL,
    unpriced              INTEGER NOT NULL,
    input_tokens          INTEGER NOT NULL,
    output_tokens         INTEGER NOT NULL,
    cache_write_5m_tokens INTEGER NOT NULL,
    cache_write_1h_tokens INTEGER NOT NULL,
    cache_read_tokens     INTEGER NOT NULL,
    cost_micros           INTEGER NOT NULL,
    PRIMARY KEY (hour_ms, key_id, user_id, team_id, model)
) WITHOUT ROWID;
CREATE INDEX usage_hourly_key ON usage_hourly (key_id, hour_ms);
CREATE INDEX usage_hourly_user ON usage_hourly (user_id, hour_ms);
CREATE INDEX usage_hourly_team ON usage_hourly (team_id, hour_ms);

-- Hourly rollup per tag (key=value) and model.
CREATE TABLE usage_tag_hourly (
    hour_ms               INTEGER NOT NULL,
    tag_key               TEXT NOT NULL,
    tag_value             TEXT NOT NULL,
    model                 TEXT NOT NULL,
    requests              INTEGER NOT NULL,
    errors                INTEGER NOT NULL,
    unpriced              INTEGER NOT NULL,
    input_tokens          INTEGER NOT NULL,
    output_tokens         INTEGER NOT NULL,
    cache_write_5m_tokens INTEGER NOT NULL,
    cache_write_1h_tokens INTEGER NOT NULL,
    cache_read_tokens     INTEGER NOT NULL,
    cost_micros           INTEGER NOT NULL,
    PRIMARY KEY (hour_ms, tag_key, tag_value, model)
) WITHOUT ROWID;
CREATE INDEX usage_tag_hourly_tag ON usage_tag_hourly (tag_key, hour_ms);
