-- Budget leases, postgres flavour. Keep in step with sqlite/0004_budget_leases.sql.
--
-- With several replicas on one PostgreSQL, budgets are enforced from the
-- database (limits.Shared): budget_spend holds each budget's settled spend
-- per period, and budget_leases what each replica may still reserve from it.
-- A lease is granted only while spent + the sum of live leases stays within
-- the limit, so the replicas together can never pass it. A lease past
-- expires_ms (unix ms) belongs to a replica that stopped renewing it and is
-- reclaimed by the next grant. period_start_ms is 0 for a total budget.
-- SQLite gets the same tables so that migration numbers stay in step; a
-- single replica never uses them.

CREATE TABLE budget_spend (
    budget_id       TEXT   NOT NULL,
    period_start_ms BIGINT NOT NULL,
    spent_micros    BIGINT NOT NULL DEFAULT 0,
    spent_tokens    BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (budget_id, period_start_ms)
);

CREATE TABLE budget_leases (
    budget_id       TEXT   NOT NULL,
    period_start_ms BIGINT NOT NULL,
    replica_id      TEXT   NOT NULL,
    leased_micros   BIGINT NOT NULL DEFAULT 0,
    leased_tokens   BIGINT NOT NULL DEFAULT 0,
    expires_ms      BIGINT NOT NULL,
    PRIMARY KEY (budget_id, period_start_ms, replica_id)
);
