-- Accounts (issue 6): users, their sessions and API tokens, topic ownership, and the log of
-- generation starts that the per-user rate limit counts.

CREATE TABLE users (
    id            TEXT PRIMARY KEY NOT NULL,
    -- Trimmed and lower-cased by the application, so the unique index is case-insensitive.
    email         TEXT NOT NULL UNIQUE,
    -- An Argon2id PHC string; NULL for the built-in local user, who cannot log in.
    password_hash TEXT,
    is_admin      INTEGER NOT NULL DEFAULT 0 CHECK (is_admin IN (0, 1)),
    created_at    INTEGER NOT NULL
);

-- The built-in local user (`QUIZMASTER_AUTH=off`, the in-process CLI). Topics stored before
-- this migration become its own.
INSERT INTO users (id, email, password_hash, is_admin, created_at)
VALUES ('00000000-0000-0000-0000-000000000001', 'local@localhost', NULL, 1, 0);

-- SQLite cannot add a column with REFERENCES and a non-NULL default while foreign keys are on,
-- so the owner is not a declared foreign key here (users are never deleted; PostgreSQL has it).
ALTER TABLE topics ADD COLUMN owner_id TEXT NOT NULL DEFAULT '00000000-0000-0000-0000-000000000001';
CREATE INDEX topics_by_owner_newest_first ON topics (owner_id, created_at DESC, id DESC);

-- Sessions and API tokens keep only the SHA-256 of their secret (hex): a copy of the database
-- lets nobody in.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY NOT NULL,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER
);
CREATE INDEX api_tokens_by_user ON api_tokens (user_id, created_at);

-- One row per generation a user started, kept for the rate-limit window (deleting a blueprint
-- does not give its start back).
CREATE TABLE generation_starts (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    started_at INTEGER NOT NULL
);
CREATE INDEX generation_starts_by_user ON generation_starts (user_id, started_at);

-- What throttling counts, under a key per kind and subject: failed log-ins per account
-- ("account:EMAIL") and per client address ("ip:ADDR"), sign-ups per address ("signup:ADDR").
-- Kept for the throttling window; in the database so that every process sharing it counts
-- the same.
CREATE TABLE throttle_events (
    key TEXT NOT NULL,
    at  INTEGER NOT NULL
);
CREATE INDEX throttle_events_by_key ON throttle_events (key, at);
