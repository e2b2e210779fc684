-- Taking access back (issue 16): sessions get a public id (to list and end them without
-- showing their secret), when they were last seen and which client started them; API tokens
-- get an expiry (NULL: never, as every token made before this migration).

ALTER TABLE sessions ADD COLUMN id UUID NOT NULL DEFAULT gen_random_uuid();
ALTER TABLE sessions ALTER COLUMN id DROP DEFAULT;
ALTER TABLE sessions ADD COLUMN last_seen_at BIGINT;
UPDATE sessions SET last_seen_at = created_at;
ALTER TABLE sessions ALTER COLUMN last_seen_at SET NOT NULL;
ALTER TABLE sessions ADD COLUMN client TEXT;
CREATE UNIQUE INDEX sessions_by_id ON sessions (id);
CREATE INDEX sessions_by_user ON sessions (user_id, created_at);

ALTER TABLE api_tokens ADD COLUMN expires_at BIGINT;
