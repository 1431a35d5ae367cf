-- Budget modes and overdrafts, sqlite flavour. Keep in step with the other engine's 0009_budget_modes.sql.
--
-- mode is 'estimate' (admit calls on a realistic estimate, bound worst
-- cases by the limit plus the overdraft) or 'strict' (worst cases against
-- the limit, never past it). overdraft is as configured: '5%', '0.50'
-- (USD) or '20000 tokens'; '' is the default (5 %). Existing budgets keep
-- today's guarantee: they start strict.

ALTER TABLE budgets ADD COLUMN mode TEXT NOT NULL DEFAULT 'strict';
ALTER TABLE budgets ADD COLUMN overdraft TEXT NOT NULL DEFAULT '';
