-- Taking access back (issue 16): sessions get a public id (to list and end them without
-- showing their secret), when they were last seen and which client started them; API tokens
-- get an expiry (NULL: never, as every token made before this migration).

ALTER TABLE sessions ADD COLUMN id TEXT;
ALTER TABLE sessions ADD COLUMN last_seen_at INTEGER;
ALTER TABLE sessions ADD COLUMN client TEXT;
-- Random version-4 UUIDs for the sessions that already exist.
UPDATE sessions SET
    id = lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' ||
               substr(hex(randomblob(2)), 2) || '-' ||
               substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' ||
               hex(randomblob(6))),
    last_seen_at = created_at;
CREATE UNIQUE INDEX sessions_by_id ON sessions (id);
CREATE INDEX sessions_by_user ON sessions (user_id, created_at);

ALTER TABLE api_tokens ADD COLUMN expires_at INTEGER;
