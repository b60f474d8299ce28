-- One schema for SQLite and PostgreSQL: only types both accept
-- (TEXT, BIGINT, INTEGER, DOUBLE PRECISION) and no dialect features.

-- requests: one row per finished request (a llmbridge.UsageRecord), kept
-- LLMBRIDGE_RETENTION_DAYS days. id sorts by arrival time.
CREATE TABLE requests (
    id                 TEXT PRIMARY KEY,
    ts                 BIGINT NOT NULL,  -- arrival, Unix milliseconds
    day                TEXT NOT NULL,    -- UTC date of ts, YYYY-MM-DD
    request_id         TEXT NOT NULL,    -- X-Request-Id (may come from the client)
    key_id             TEXT NOT NULL,    -- access-key fingerprint, '' without one
    provider           TEXT NOT NULL,
    model              TEXT NOT NULL,    -- provider/upstream model as routed
    client_model       TEXT NOT NULL,    -- the model string the client sent
    stream             INTEGER NOT NULL,
    status             INTEGER NOT NULL,
    prompt_tokens      BIGINT NOT NULL,
    completion_tokens  BIGINT NOT NULL,
    cached_tokens      BIGINT NOT NULL,
    reasoning_tokens   BIGINT NOT NULL,
    cache_write_tokens BIGINT NOT NULL,
    estimated          INTEGER NOT NULL,
    duration_ms        DOUBLE PRECISION NOT NULL,
    ttft_ms            DOUBLE PRECISION NOT NULL,
    cost_usd           DOUBLE PRECISION, -- NULL: the model has no known price
    error              TEXT NOT NULL
);
-- (no index on ts: pruning and paging use the id, which sorts by time)

-- usage_daily: per (UTC day, key, provider, model) sums, kept forever.
-- Updated in the same transaction as the requests rows it counts.
CREATE TABLE usage_daily (
    day                TEXT NOT NULL,
    key_id             TEXT NOT NULL,
    provider           TEXT NOT NULL,
    model              TEXT NOT NULL,
    requests           BIGINT NOT NULL,
    errors             BIGINT NOT NULL,
    prompt_tokens      BIGINT NOT NULL,
    completion_tokens  BIGINT NOT NULL,
    cached_tokens      BIGINT NOT NULL,
    reasoning_tokens   BIGINT NOT NULL,
    cache_write_tokens BIGINT NOT NULL,
    cost_usd           DOUBLE PRECISION NOT NULL, -- sum over priced requests
    unpriced           BIGINT NOT NULL,           -- requests with tokens and no price
    PRIMARY KEY (day, key_id, provider, model)
);
