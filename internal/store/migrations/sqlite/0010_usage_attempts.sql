-- The upstream attempts of each call (1 unless it was retried or fell back),
-- on the usage row and summed in the hourly rollups, so that GET /admin/usage
-- shows how many attempts the requests took. Rows from before count 0.
-- Keep in step with the postgres flavour.
ALTER TABLE usage_records ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage_hourly ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage_tag_hourly ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
