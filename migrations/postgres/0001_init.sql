-- QuizMaster schema, PostgreSQL dialect. Differences from SQLite: native UUID ids, BIGINT
-- millisecond times (the same integers as SQLite, so both backends share one domain), and
-- triggers that announce every change with NOTIFY so that every process hears it.

CREATE TABLE topics (
    id          UUID PRIMARY KEY,
    title       TEXT NOT NULL,
    description TEXT,
    source_text TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX topics_newest_first ON topics (created_at DESC, id DESC);

CREATE TABLE blueprints (
    id                         UUID PRIMARY KEY,
    topic_id                   UUID NOT NULL REFERENCES topics (id) ON DELETE CASCADE,
    status                     TEXT NOT NULL
        CHECK (status IN ('queued', 'generating', 'completed', 'error', 'cancelled')),
    title                      TEXT,
    description                TEXT,
    terminal_objectives_count  BIGINT NOT NULL DEFAULT 0,
    enabling_objectives_count  BIGINT NOT NULL DEFAULT 0,
    target_terminal_objectives BIGINT NOT NULL,
    error                      TEXT,
    error_code                 TEXT
        CHECK (error_code IS NULL OR error_code IN ('timeout', 'worker_lost', 'generator_failed', 'cancelled')),
    -- The fencing token: grows at every claim; a worker writes only while it still matches.
    attempt                    BIGINT NOT NULL DEFAULT 0,
    created_at                 BIGINT NOT NULL,
    generation_started_at      BIGINT,
    finished_at                BIGINT,
    -- Grows at every stored change: the ETag and the SSE event id.
    version                    BIGINT NOT NULL DEFAULT 1,
    updated_at                 BIGINT NOT NULL
);
-- At most one active generation per topic, enforced by the database itself.
CREATE UNIQUE INDEX blueprints_one_active_per_topic
    ON blueprints (topic_id) WHERE status IN ('queued', 'generating');
CREATE INDEX blueprints_by_topic_newest_first ON blueprints (topic_id, created_at DESC, id DESC);
CREATE INDEX blueprints_active_by_age
    ON blueprints (created_at) WHERE status IN ('queued', 'generating');

CREATE TABLE generation_jobs (
    blueprint_id     UUID PRIMARY KEY REFERENCES blueprints (id) ON DELETE CASCADE,
    worker_id        TEXT,
    lease_expires_at BIGINT,
    heartbeat_at     BIGINT,
    enqueued_at      BIGINT NOT NULL,
    finished_at      BIGINT
);
CREATE INDEX generation_jobs_pending ON generation_jobs (enqueued_at) WHERE finished_at IS NULL;

CREATE TABLE idempotency_keys (
    topic_id     UUID NOT NULL REFERENCES topics (id) ON DELETE CASCADE,
    key          TEXT NOT NULL,
    blueprint_id UUID NOT NULL REFERENCES blueprints (id) ON DELETE CASCADE,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (topic_id, key)
);

CREATE TABLE terminal_objectives (
    id           UUID PRIMARY KEY,
    blueprint_id UUID NOT NULL REFERENCES blueprints (id) ON DELETE CASCADE,
    position     BIGINT NOT NULL,
    text         TEXT NOT NULL,
    bloom_level  TEXT NOT NULL,
    verb         TEXT NOT NULL,
    condition    TEXT,
    criterion    TEXT,
    UNIQUE (blueprint_id, position)
);

CREATE TABLE enabling_objectives (
    id                    UUID PRIMARY KEY,
    terminal_objective_id UUID NOT NULL REFERENCES terminal_objectives (id) ON DELETE CASCADE,
    blueprint_id          UUID NOT NULL REFERENCES blueprints (id) ON DELETE CASCADE,
    position              BIGINT NOT NULL,
    text                  TEXT NOT NULL,
    bloom_level           TEXT NOT NULL,
    verb                  TEXT NOT NULL,
    condition             TEXT,
    criterion             TEXT,
    UNIQUE (terminal_objective_id, position)
);
CREATE INDEX enabling_objectives_by_blueprint ON enabling_objectives (blueprint_id);

-- Every stored change of a blueprint is announced; the payload is its id. NOTIFY is
-- transactional: listeners hear of a change only once it is committed.
CREATE FUNCTION quizmaster_notify_blueprint() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('quizmaster_status', NEW.id::text);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER blueprints_notify
    AFTER INSERT OR UPDATE ON blueprints
    FOR EACH ROW EXECUTE FUNCTION quizmaster_notify_blueprint();

-- A job that becomes claimable (enqueued, or handed back) wakes idle workers everywhere.
CREATE FUNCTION quizmaster_notify_job() RETURNS trigger AS $$
BEGIN
    IF NEW.finished_at IS NULL AND NEW.worker_id IS NULL THEN
        PERFORM pg_notify('quizmaster_jobs', '');
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER generation_jobs_notify
    AFTER INSERT OR UPDATE ON generation_jobs
    FOR EACH ROW EXECUTE FUNCTION quizmaster_notify_job();
