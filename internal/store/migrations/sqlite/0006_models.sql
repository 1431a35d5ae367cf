-- Runtime models, sqlite flavour. Keep in step with postgres/0006_models.sql.
--
-- Models added through the admin API (/admin/models, tollgate models add)
-- live here and are merged with the config file's by the gateway: the file
-- wins on a clash. name is unique ignoring case (name_fold), as model names
-- resolve case-insensitively. targets holds the targets as JSON in the
-- config's shape (provider, model, weight, max_concurrent, queue_timeout_ms,
-- drop_betas, drop_fields); price is NULL when the model takes its price
-- from the built-in catalog or the file's prices, else a JSON object of USD
-- per million tokens by kind. updated_by names the admin principal of the
-- last write.
CREATE TABLE models (
    name         TEXT PRIMARY KEY,
    name_fold    TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL DEFAULT '',
    strategy     TEXT NOT NULL DEFAULT '',
    drop_betas   TEXT NOT NULL DEFAULT '[]',
    drop_fields  TEXT NOT NULL DEFAULT '[]',
    targets      TEXT NOT NULL,
    price        TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    updated_by   TEXT NOT NULL DEFAULT ''
);
