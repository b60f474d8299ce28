-- The response cache (llmbridge.WithCache): what it did for each request
-- and what its hits saved. Rows written before this migration read as
-- "no cache" ('' and 0), which is what they were.

-- cache: 'hit', 'miss' or 'bypass' (llmbridge.CacheHit/CacheMiss/
-- CacheBypass), '' when no cache was configured or it did not apply.
-- A hit called no upstream: its token counts and cost_usd are 0, and
-- saved_usd is the cached answer's counts priced with the same prices.
ALTER TABLE requests ADD COLUMN cache TEXT NOT NULL DEFAULT '';
ALTER TABLE requests ADD COLUMN saved_usd DOUBLE PRECISION NOT NULL DEFAULT 0;

-- The daily rollups count the hits and sum what they saved.
ALTER TABLE usage_daily ADD COLUMN cache_hits BIGINT NOT NULL DEFAULT 0;
ALTER TABLE usage_daily ADD COLUMN saved_usd DOUBLE PRECISION NOT NULL DEFAULT 0;
