-- QuizMaster schema, SQLite dialect.
-- Times are integer milliseconds since the Unix epoch (they sort and compare the same on both
-- backends); ids are UUIDs stored as text.

CREATE TABLE topics (
    id          TEXT PRIMARY KEY NOT NULL,
    title       TEXT NOT NULL,
    description TEXT,
    source_text TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX topics_newest_first ON topics (created_at DESC, id DESC);

CREATE TABLE blueprints (
    id                         TEXT PRIMARY KEY NOT NULL,
    topic_id                   TEXT NOT NULL REFERENCES topics (id) ON DELETE CASCADE,
    status                     TEXT NOT NULL
        CHECK (status IN ('queued', 'generating', 'completed', 'error', 'cancelled')),
    title                      TEXT,
    description                TEXT,
    terminal_objectives_count  INTEGER NOT NULL DEFAULT 0,
    enabling_objectives_count  INTEGER NOT NULL DEFAULT 0,
    target_terminal_objectives INTEGER NOT NULL,
    error                      TEXT,
    error_code                 TEXT
        CHECK (error_code IS NULL OR error_code IN ('timeout', 'worker_lost', 'generator_failed', 'cancelled')),
    -- The fencing token: grows at every claim; a worker writes only while it still matches.
    attempt                    INTEGER NOT NULL DEFAULT 0,
    created_at                 INTEGER NOT NULL,
    generation_started_at      INTEGER,
    finished_at                INTEGER,
    -- Grows at every stored change: the ETag and the SSE event id.
    version                    INTEGER NOT NULL DEFAULT 1,
    updated_at                 INTEGER NOT NULL
);
-- At most one active generation per topic, enforced by the database itself.
CREATE UNIQUE INDEX blueprints_one_active_per_topic
    ON blueprints (topic_id) WHERE status IN ('queued', 'generating');
CREATE INDEX blueprints_by_topic_newest_first ON blueprints (topic_id, created_at DESC, id DESC);
CREATE INDEX blueprints_active_by_age
    ON blueprints (created_at) WHERE status IN ('queued', 'generating');

-- The job behind a blueprint's generation: who holds it and until when.
CREATE TABLE generation_jobs (
    blueprint_id     TEXT PRIMARY KEY NOT NULL REFERENCES blueprints (id) ON DELETE CASCADE,
    worker_id        TEXT,
    lease_expires_at INTEGER,
    heartbeat_at     INTEGER,
    enqueued_at      INTEGER NOT NULL,
    finished_at      INTEGER
);
CREATE INDEX generation_jobs_pending ON generation_jobs (enqueued_at) WHERE finished_at IS NULL;

CREATE TABLE idempotency_keys (
    topic_id     TEXT NOT NULL REFERENCES topics (id) ON DELETE CASCADE,
    key          TEXT NOT NULL,
    blueprint_id TEXT NOT NULL REFERENCES blueprints (id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (topic_id, key)
);

CREATE TABLE terminal_objectives (
    id           TEXT PRIMARY KEY NOT NULL,
    blueprint_id TEXT NOT NULL REFERENCES blueprints (id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    text         TEXT NOT NULL,
    bloom_level  TEXT NOT NULL,
    verb         TEXT NOT NULL,
    condition    TEXT,
    criterion    TEXT,
    -- A retry can never store the same position twice.
    UNIQUE (blueprint_id, position)
);

CREATE TABLE enabling_objectives (
    id                    TEXT PRIMARY KEY NOT NULL,
    terminal_objective_id TEXT NOT NULL REFERENCES terminal_objectives (id) ON DELETE CASCADE,
    blueprint_id          TEXT NOT NULL REFERENCES blueprints (id) ON DELETE CASCADE,
    position              INTEGER NOT NULL,
    text                  TEXT NOT NULL,
    bloom_level           TEXT NOT NULL,
    verb                  TEXT NOT NULL,
    condition             TEXT,
    criterion             TEXT,
    UNIQUE (terminal_objective_id, position)
);
CREATE INDEX enabling_objectives_by_blueprint ON enabling_objectives (blueprint_id);
