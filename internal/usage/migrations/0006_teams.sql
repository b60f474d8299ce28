-- Teams (internal/keys: team.go): virtual keys grouped under limits and
-- budgets that hold on top of each key's own, and the team and user (the
-- key's owner) of every request, so reports can sum spend per team and
-- per person. Same dialect rules as 0001: types and statements both
-- SQLite and PostgreSQL accept.

-- teams: name is unique whatever its case (the index on LOWER(name));
-- limits as in virtual_keys (0 = none); models a JSON array of patterns
-- ([] = any model).
CREATE TABLE teams (
    id                 TEXT PRIMARY KEY,        -- tm_ and 16 hex digits
    name               TEXT NOT NULL,
    models             TEXT NOT NULL,
    rpm                BIGINT NOT NULL,
    tpm                BIGINT NOT NULL,
    max_parallel       BIGINT NOT NULL,
    daily_budget_usd   DOUBLE PRECISION NOT NULL,
    monthly_budget_usd DOUBLE PRECISION NOT NULL,
    created_at         BIGINT NOT NULL,         -- Unix milliseconds
    updated_at         BIGINT NOT NULL
);
CREATE UNIQUE INDEX teams_name ON teams (LOWER(name));

-- A key's team ('' = none) and the listing of one owner's keys.
ALTER TABLE virtual_keys ADD COLUMN team_id TEXT NOT NULL DEFAULT '';
CREATE INDEX virtual_keys_team ON virtual_keys (team_id);
CREATE INDEX virtual_keys_owner ON virtual_keys (owner);

-- Each request's team and user as they were when it was made ('' for
-- rows written before this migration, and for keys without them).
ALTER TABLE requests ADD COLUMN team_id TEXT NOT NULL DEFAULT '';
ALTER TABLE requests ADD COLUMN user_name TEXT NOT NULL DEFAULT '';

-- usage_daily gains team and user in its primary key: a key moved to
-- another team mid-day counts its requests under each team in turn.
-- Rebuilt (neither dialect can widen a primary key in place), keeping
-- every row.
CREATE TABLE usage_daily_new (
    day                TEXT NOT NULL,
    key_id             TEXT NOT NULL,
    team_id            TEXT NOT NULL,
    user_name          TEXT NOT NULL,
    provider           TEXT NOT NULL,
    model              TEXT NOT NULL,
    requests           BIGINT NOT NULL,
    errors             BIGINT NOT NULL,
    prompt_tokens      BIGINT NOT NULL,
    completion_tokens  BIGINT NOT NULL,
    cached_tokens      BIGINT NOT NULL,
    reasoning_tokens   BIGINT NOT NULL,
    cache_write_tokens BIGINT NOT NULL,
    cost_usd           DOUBLE PRECISION NOT NULL,
    unpriced           BIGINT NOT NULL,
    cache_hits         BIGINT NOT NULL DEFAULT 0,
    saved_usd          DOUBLE PRECISION NOT NULL DEFAULT 0,
    PRIMARY KEY (day, key_id, team_id, user_name, provider, model)
);
INSERT INTO usage_daily_new (day, key_id, team_id, user_name, provider, model, requests, errors, prompt_tokens, completion_tokens,
    cached_tokens, reasoning_tokens, cache_write_tokens, cost_usd, unpriced, cache_hits, saved_usd)
SELECT day, key_id, '', '', provider, model, requests, errors, prompt_tokens, completion_tokens,
    cached_tokens, reasoning_tokens, cache_write_tokens, cost_usd, unpriced, cache_hits, saved_usd FROM usage_daily;
DROP TABLE usage_daily;
ALTER TABLE usage_daily_new RENAME TO usage_daily;
-- Team spend is read per team (keys.Store.TeamSpend).
CREATE INDEX usage_daily_team ON usage_daily (team_id, day);
