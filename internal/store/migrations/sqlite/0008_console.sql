-- Console sign-in sessions and the daily usage rollup, sqlite flavour. Keep in step with the other engine's
-- 0008_console.sql.
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

-- Daily rollup per (key, user, team, model), the hourly rollup summed by UTC
-- day: what usage queries over whole UTC days read (totals, and day buckets
-- in UTC), so that the console's 30- and 90-day views sum a day's row
-- instead of 24 hourly ones. InsertUsage adds to it with the hourly
-- rollup, in the same transaction; it is filled here from the hourly
-- rollup. Like the hourly rollups, it is never purged.
CREATE TABLE usage_daily (
    day_ms                BIGINT NOT NULL,
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
    -- Upstream attempts, as in usage_hourly from migration 0010 on (that
    -- migration adds the column to the hourly rollups only).
    attempts              BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day_ms, key_id, user_id, team_id, model)
) WITHOUT ROWID;
INSERT INTO usage_daily (day_ms, key_id, user_id, team_id, model, requests, errors, unpriced, input_tokens,
    output_tokens, cache_write_5m_tokens, cache_write_1h_tokens, cache_read_tokens, cost_micros)
SELECT (hour_ms / 86400000) * 86400000, key_id, user_id, team_id, model, SUM(requests), SUM(errors), SUM(unpriced),
    SUM(input_tokens), SUM(output_tokens), SUM(cache_write_5m_tokens), SUM(cache_write_1h_tokens),
    SUM(cache_read_tokens), SUM(cost_micros)
FROM usage_hourly GROUP BY (hour_ms / 86400000) * 86400000, key_id, user_id, team_id, model;

-- What the console's page of a call shows beyond the counters: the error
-- the client was told (bounded, see usage.MaxErrorMessage) and the
-- upstream's request id, for support cases. Rows written before this
-- migration have neither.
ALTER TABLE usage_records ADD COLUMN error_message TEXT NOT NULL DEFAULT '';
ALTER TABLE usage_records ADD COLUMN upstream_request_id TEXT NOT NULL DEFAULT '';
