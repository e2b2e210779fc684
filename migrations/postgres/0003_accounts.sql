-- Accounts (issue 6): users, their sessions and API tokens, topic ownership, and the log of
-- generation starts that the per-user rate limit counts. Same shape as the SQLite schema, with
-- native UUIDs, BOOLEAN and a declared foreign key for the topic owner.

CREATE TABLE users (
    id            UUID PRIMARY KEY,
    -- Trimmed and lower-cased by the application, so the unique index is case-insensitive.
    email         TEXT NOT NULL UNIQUE,
    -- An Argon2id PHC string; NULL for the built-in local user, who cannot log in.
    password_hash TEXT,
    is_admin      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    BIGINT NOT NULL
);

-- The built-in local user (`QUIZMASTER_AUTH=off`, the in-process CLI). Topics stored before
-- this migration become its own.
INSERT INTO users (id, email, password_hash, is_admin, created_at)
VALUES ('00000000-0000-0000-0000-000000000001', 'local@localhost', NULL, TRUE, 0);

ALTER TABLE topics ADD COLUMN owner_id UUID NOT NULL
    DEFAULT '00000000-0000-0000-0000-000000000001' REFERENCES users (id) ON DELETE CASCADE;
CREATE INDEX topics_by_owner_newest_first ON topics (owner_id, created_at DESC, id DESC);

-- Sessions and API tokens keep only the SHA-256 of their secret (hex): a copy of the database
-- lets nobody in.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

CREATE TABLE api_tokens (
    id           UUID PRIMARY KEY,
    user_id      UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX api_tokens_by_user ON api_tokens (user_id, created_at);

-- One row per generation a user started, kept for the rate-limit window (deleting a blueprint
-- does not give its start back).
CREATE TABLE generation_starts (
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    started_at BIGINT NOT NULL
);
CREATE INDEX generation_starts_by_user ON generation_starts (user_id, started_at);

-- What throttling counts, under a key per kind and subject: failed log-ins per account
-- ("account:EMAIL") and per client address ("ip:ADDR"), sign-ups per address ("signup:ADDR").
-- Kept for the throttling window; in the database so that every process sharing it counts
-- the same.
CREATE TABLE throttle_events (
    key TEXT NOT NULL,
    at  BIGINT NOT NULL
);
CREATE INDEX throttle_events_by_key ON throttle_events (key, at);
