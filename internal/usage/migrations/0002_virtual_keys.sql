-- virtual_keys: keys for people and apps (internal/keys), managed through
-- the admin API and the keys command. The secret is never stored: only
-- its SHA-256 (hex) and its last four characters.
CREATE TABLE virtual_keys (
    id                 TEXT PRIMARY KEY,        -- vk_ and 16 hex digits; the key_id of its requests
    name               TEXT NOT NULL,
    owner              TEXT NOT NULL,
    secret_sha256      TEXT NOT NULL UNIQUE,
    last4              TEXT NOT NULL,
    models             TEXT NOT NULL,           -- JSON array of patterns; [] = any model
    rpm                BIGINT NOT NULL,         -- 0 = no limit, as every limit below
    tpm                BIGINT NOT NULL,
    max_parallel       BIGINT NOT NULL,
    daily_budget_usd   DOUBLE PRECISION NOT NULL,
    monthly_budget_usd DOUBLE PRECISION NOT NULL,
    created_at         BIGINT NOT NULL,         -- Unix milliseconds
    updated_at         BIGINT NOT NULL,
    expires_at         BIGINT,                  -- NULL: never
    revoked_at         BIGINT                   -- NULL: not revoked
);

-- virtual_keys_version: one row, bumped in the same transaction as every
-- change to virtual_keys; replicas poll it to reload the keys.
CREATE TABLE virtual_keys_version (
    id      INTEGER PRIMARY KEY,
    version BIGINT NOT NULL
);
INSERT INTO virtual_keys_version (id, version) VALUES (1, 0);
