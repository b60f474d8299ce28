-- Configuration kept in the store (internal/liveconfig): providers,
-- routes, prices, the cache policy and alert rules that the admin API and
-- UI manage, under the environment's and the YAML file's. (0004–0010 are
-- left to other tables; the runner applies whatever is not applied yet.)

-- config_items: one row per item. body is the item in the YAML file's
-- own shape, without its secrets; secret is the provider's keys sealed
-- with AES-GCM (LLMBRIDGE_SECRET_KEY or the data folder's key file), ''
-- when it has none. A write replaces a whole row: the last write wins
-- per item, never a mix of two.
CREATE TABLE config_items (
    kind       TEXT NOT NULL,   -- provider, route, price, cache, alert_rule
    name       TEXT NOT NULL,   -- provider or route name, model, rule name; '' for cache
    body       TEXT NOT NULL,
    secret     TEXT NOT NULL,
    updated_at BIGINT NOT NULL, -- Unix milliseconds
    PRIMARY KEY (kind, name)
);

-- config_version: one row, bumped in the same transaction as every
-- change to config_items; replicas poll it (and listen on Redis).
CREATE TABLE config_version (
    id      INTEGER PRIMARY KEY,
    version BIGINT NOT NULL
);
INSERT INTO config_version (id, version) VALUES (1, 0);

-- audit_log: every admin action. id sorts by time; fields is a JSON
-- object of the changed fields, never a secret.
CREATE TABLE audit_log (
    id     TEXT PRIMARY KEY,
    ts     BIGINT NOT NULL,     -- Unix milliseconds
    actor  TEXT NOT NULL,       -- admin key, ui session, first-run link
    action TEXT NOT NULL,       -- e.g. provider.create, key.revoke, signin
    target TEXT NOT NULL,
    fields TEXT NOT NULL
);
