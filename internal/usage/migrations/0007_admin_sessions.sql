-- Admin UI sessions signed out before they expire (internal/liveconfig,
-- internal/admin/ui): the session cookie is sealed and opens on every
-- replica, so a sign-out is remembered here, where every replica looks,
-- until the cookie would have expired anyway.
CREATE TABLE admin_session_revocations (
    id      TEXT PRIMARY KEY, -- the session's random id (not the cookie)
    expires BIGINT NOT NULL   -- Unix milliseconds; the row goes after it
);
