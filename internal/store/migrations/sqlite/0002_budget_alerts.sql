-- Budget alerts, sqlite flavour. Keep in step with postgres/0002_budget_alerts.sql.
--
-- One row per budget, event and period claims the right to notify: a
-- replica inserts it with ON CONFLICT DO NOTHING and only the replica whose
-- insert took effect delivers, so every crossing is announced once across
-- restarts and replicas. No foreign key to budgets: the history outlives a
-- deleted budget.

CREATE TABLE budget_alerts (
    id           TEXT PRIMARY KEY,
    budget_id    TEXT NOT NULL,
    event        TEXT NOT NULL,            -- threshold | refused
    threshold    INTEGER NOT NULL,         -- percent; 0 for refused
    period_start INTEGER NOT NULL,           -- unix ms; 0 for total budgets
    scope_kind   TEXT NOT NULL,
    scope_id     TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    UNIQUE (budget_id, event, threshold, period_start)
);

-- The outcome of delivering one alert to one sink, rewritten after each
-- attempt.
CREATE TABLE alert_deliveries (
    alert_id   TEXT NOT NULL REFERENCES budget_alerts (id) ON DELETE CASCADE,
    sink       TEXT NOT NULL,
    outcome    TEXT NOT NULL,              -- delivered | retried | failed
    attempts   INTEGER NOT NULL,
    last_error TEXT NOT NULL DEFAULT '',
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (alert_id, sink)
);
