-- One usage row per request, postgres flavour. Keep in step with
-- sqlite/0005_usage_request_unique.sql.
--
-- InsertUsage inserts with ON CONFLICT DO NOTHING and adds to the rollups
-- only the rows it actually inserted, so a record written twice (a spool
-- replayed after a crash that happened after the commit, or two replicas'
-- writers handed the same record) lands once in usage_records and once in
-- the rollups. Rows with an empty request_id (none are written by the
-- gateway, which names every request) stay outside the rule.
--
-- Duplicates already stored (from replays before this migration) are
-- removed first, keeping the oldest row; the rollups they were counted in
-- are left as they are.
DELETE FROM usage_records a USING usage_records b
WHERE a.request_id <> '' AND a.request_id = b.request_id AND a.id > b.id;
CREATE UNIQUE INDEX usage_records_request ON usage_records (request_id) WHERE request_id <> '';
