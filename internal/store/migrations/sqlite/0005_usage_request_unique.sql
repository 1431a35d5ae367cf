-- One usage row per request, sqlite flavour. Keep in step with
-- postgres/0005_usage_request_unique.sql, which explains the rule.
DELETE FROM usage_records WHERE request_id <> '' AND id NOT IN
    (SELECT min(id) FROM usage_records WHERE request_id <> '' GROUP BY request_id);
CREATE UNIQUE INDEX usage_records_request ON usage_records (request_id) WHERE request_id <> '';
