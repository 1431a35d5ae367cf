-- Tollgate schema, PostgreSQL flavour. Keep in step with sqlite/0001_init.sql:
-- same tables, columns and meaning; only the types differ (BIGINT and BOOLEAN
-- here, TEXT for JSON in both). Times are unix milliseconds, money is
-- micro-USD.

CREATE TABLE users (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    email      TEXT NOT NULL DEFAULT '',
    disabled   BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL
);

CREATE TABLE teams (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE team_members (
    team_id    TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_user ON team_members (user_id);

CREATE TABLE keys (
    id           TEXT PRIMARY KEY,
    alias        TEXT NOT NULL UNIQUE,
    prefix       TEXT NOT NULL,
    secret_hash  TEXT NOT NULL UNIQUE,
    user_id      TEXT REFERENCES users (id),
    team_id      TEXT REFERENCES teams (id),
    expires_at   BIGINT,
    models       TEXT NOT NULL DEFAULT '[]',
    tags         TEXT NOT NULL DEFAULT '{}',
    disabled     BOOLEAN NOT NULL DEFAULT FALSE,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX keys_user ON keys (user_id);
CREATE INDEX keys_team ON keys (team_id);

CREATE TABLE budgets (
    id               TEXT PRIMARY KEY,
    scope_kind       TEXT NOT NULL CHECK (scope_kind IN ('key', 'user', 'team')),
    scope_id         TEXT NOT NULL,
    limit_usd_micros BIGINT,
    limit_tokens     BIGINT,
    period           TEXT NOT NULL CHECK (period IN ('day', 'week', 'month', 'total')),
    timezone         TEXT NOT NULL DEFAULT 'UTC',
    thresholds       TEXT NOT NULL DEFAULT '[50,80,100]',
    created_at       BIGINT NOT NULL,
    CHECK (limit_usd_micros IS NOT NULL OR limit_tokens IS NOT NULL),
    UNIQUE (scope_kind, scope_id, period)
);

CREATE TABLE rate_limits (
    id         TEXT PRIMARY KEY,
    scope_kind TEXT NOT NULL CHECK (scope_kind IN ('key', 'user', 'team')),
    scope_id   TEXT NOT NULL,
    rpm        BIGINT NOT NULL DEFAULT 0,
    tpm        BIGINT NOT NULL DEFAULT 0,
    concurrent BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    UNIQUE (scope_kind, scope_id)
);

CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- One row per metered request. Raw rows have a retention (PurgeUsage);
-- charts and budgets read the hourly rollups below instead.
CREATE TABLE usage_records (
    id                    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id            TEXT NOT NULL,
    ts_ms                 BIGINT NOT NULL,
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
    stream                BOOLEAN NOT NULL,
    status                BIGINT NOT NULL,
    error_origin          TEXT NOT NULL,
    latency_ms            BIGINT NOT NULL,
    ttft_ms               BIGINT NOT NULL,
    input_tokens          BIGINT NOT NULL,
    output_tokens         BIGINT NOT NULL,
    cache_write_5m_tokens BIGINT NOT NULL,
    cache_write_1h_tokens BIGINT NOT NULL,
    cache_read_tokens     BIGINT NOT NULL,
    cost_micros           BIGINT NOT NULL,
    unpriced              BOOLEAN NOT NULL
);
CREATE INDEX usage_records_ts ON usage_records (ts_ms);
CREATE INDEX usage_records_key_ts ON usage_records (key_id, ts_ms);
CREATE INDEX usage_records_user_ts ON usage_records (user_id, ts_ms);
CREATE INDEX usage_records_team_ts ON usage_records (team_id, ts_ms);

-- Hourly rollup per key, user, team and model. '' stands for "none" so the
-- columns can be part of the primary key.
CREATE TABLE usage_hourly (
    hour_ms               BIGINT NOT NULL,
    key_id                TEXT NOT NULL,
    user_id               TEXT NOT NULL,
    team_id               TEXT NOT NULL,
    model                 TEXT NOT NULL,
    requests              BIGINT NOT NULL,
    errors                BIGINT NOT NULL,
    unpriced              BIGINT NOT NULL,
    input_tokens          BIGINT NOT NULL,
    output_tokens         BIGINT NOT NULL,
    cache_write_5m_tokens BIGINT NOT NULL,
    cache_write_1h_tokens BIGINT NOT NULL,
    cache_read_tokens     BIGINT NOT NULL,
    cost_micros           BIGINT NOT NULL,
    PRIMARY KEY (hour_ms, key_id, user_id, team_id, model)
);
CREATE INDEX usage_hourly_key ON usage_hourly (key_id, hour_ms);
CREATE INDEX usage_hourly_user ON usage_hourly (user_id, hour_ms);
CREATE INDEX usage_hourly_team ON usage_hourly (team_id, hour_ms);

-- Hourly rollup per tag (key=value) and model.
CREATE TABLE usage_tag_hourly (
    hour_ms               BIGINT NOT NULL,
    tag_key               TEXT NOT NULL,
    tag_value             TEXT NOT NULL,
    model                 TEXT NOT NULL,
    requests              BIGINT NOT NULL,
    errors                BIGINT NOT NULL,
    unpriced              BIGINT NOT NULL,
    input_tokens          BIGINT NOT NULL,
    output_tokens         BIGINT NOT NULL,
    cache_write_5m_tokens BIGINT NOT NULL,
    cache_write_1h_tokens BIGINT NOT NULL,
    cache_read_tokens     BIGINT NOT NULL,
    cost_micros           BIGINT NOT NULL,
    PRIMARY KEY (hour_ms, tag_key, tag_value, model)
);
CREATE INDEX usage_tag_hourly_tag ON usage_tag_hourly (tag_key, hour_ms);
